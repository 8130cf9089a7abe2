"""The PKI secrets engine through hvac's `secrets.pki`: root CAs, roles, issue, sign,
sign-verbatim, certificates by serial, revocation and CRLs, tidy, issuers and URLs. Issued
certificates are checked with the `cryptography` package (chain, SANs, usages, validity, the
private key against the certificate) and a real TLS handshake; CRLs with `openssl crl`. Answer
shapes and refusal codes are compared with a real OpenBao dev server in the same test."""

import base64
import datetime
import urllib.parse
import socket
import ssl
import subprocess
import tempfile
import threading

import hvac
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from compat import last_status, same_answer, same_answers, unique


def enable_pki(client):
    path = unique("pki")
    # A year of maximum TTL where the server allows it (OpenBao does; SecretHub's mounts stay
    # under the system maximum, 768h, so the root gets that).
    client.sys.enable_secrets_engine("pki", path=path)
    return path


@pytest.fixture
def pki(server):
    """A fresh PKI mount on `server` with an EC root; disabled afterwards."""
    path = enable_pki(server)
    root = server.secrets.pki.generate_root(
        "internal", "Test Root", extra_params={"key_type": "ec", "ttl": "700h"}, mount_point=path
    )["data"]
    yield path, root
    server.sys.disable_secrets_engine(path)


def cert_of(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def web_role(client, mount, name="web", **extra):
    params = {"allowed_domains": "example.com", "allow_subdomains": True, "key_type": "ec", "ttl": "1h"}
    params.update(extra)
    client.secrets.pki.create_or_update_role(name, params, mount_point=mount)


def test_issue_verifies_under_the_root(server, pki):
    mount, root = pki
    web_role(server, mount)
    issued = server.secrets.pki.generate_certificate(
        "web",
        "a.example.com",
        extra_params={"alt_names": "b.example.com", "ip_sans": "127.0.0.1"},
        mount_point=mount,
    )["data"]
    ca = cert_of(root["certificate"])
    leaf = cert_of(issued["certificate"])
    leaf.verify_directly_issued_by(ca)
    assert issued["issuing_ca"].strip() == root["certificate"].strip()
    assert [c.strip() for c in issued["ca_chain"]] == [root["certificate"].strip()]
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "a.example.com"
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["a.example.com", "b.example.com"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_agreement and usage.key_encipherment
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert lifetime == datetime.timedelta(hours=1, seconds=30)
    assert issued["expiration"] == int(leaf.not_valid_after_utc.timestamp())
    # xx:xx form of the certificate's serial (OpenBao drops a leading zero byte).
    assert int(issued["serial_number"].replace(":", ""), 16) == leaf.serial_number
    assert all(len(pair) == 2 for pair in issued["serial_number"].split(":"))
    key = serialization.load_pem_private_key(issued["private_key"].encode(), None)
    assert issued["private_key_type"] == "ec"
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()
    # Stored: listed and readable by serial, without a token too.
    assert issued["serial_number"] in server.secrets.pki.list_certificates(mount_point=mount)["data"]["keys"]
    anonymous = requests.get(f"{server.url}/v1/{mount}/cert/{issued['serial_number']}", timeout=10)
    assert anonymous.status_code == 200
    assert anonymous.json()["data"]["certificate"].strip() == issued["certificate"].strip()


def test_rsa_and_ed25519_keys(server, pki):
    mount, root = pki
    server.secrets.pki.create_or_update_role("rsa", {"allow_any_name": True, "ttl": "1h"}, mount_point=mount)
    server.secrets.pki.create_or_update_role(
        "ed", {"allow_any_name": True, "ttl": "1h", "key_type": "ed25519"}, mount_point=mount
    )
    rsa = server.secrets.pki.generate_certificate("rsa", "r.test", mount_point=mount)["data"]
    assert rsa["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    key = serialization.load_pem_private_key(rsa["private_key"].encode(), None)
    assert key.key_size == 2048
    cert_of(rsa["certificate"]).verify_directly_issued_by(cert_of(root["certificate"]))
    ed = server.secrets.pki.generate_certificate(
        "ed", "e.test", extra_params={"private_key_format": "pkcs8"}, mount_point=mount
    )["data"]
    assert ed["private_key_type"] == "ed25519"
    assert ed["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    cert_of(ed["certificate"]).verify_directly_issued_by(cert_of(root["certificate"]))


def test_answer_shapes_match_openbao(secrethub, bao):
    def setup(client):
        mount = enable_pki(client)
        web_role(client, mount)
        client.secrets.pki.generate_root("internal", "Shape Root", extra_params={"key_type": "ec", "ttl": "700h"}, mount_point=mount)
        return mount

    pki = lambda c: c.secrets.pki  # noqa: E731
    same_answers(
        secrethub,
        bao,
        {
            "generate_root_exported": lambda c, m: pki(c).generate_root(
                "exported", "Another", extra_params={"key_type": "ec", "issuer_name": "another", "ttl": "700h"}, mount_point=m
            ),
            "read_role": lambda c, m: pki(c).read_role("web", mount_point=m),
            "missing_role": lambda c, m: pki(c).read_role("nope", mount_point=m),
            "list_roles": lambda c, m: pki(c).list_roles(mount_point=m),
            "delete_role": lambda c, m: pki(c).delete_role("web", mount_point=m),
            "issue": lambda c, m: pki(c).generate_certificate("web", "a.example.com", mount_point=m),
            "issue_other_domain": lambda c, m: pki(c).generate_certificate("web", "a.other.com", mount_point=m),
            "issue_bare_domain": lambda c, m: pki(c).generate_certificate("web", "example.com", mount_point=m),
            "issue_bad_san": lambda c, m: pki(c).generate_certificate(
                "web", "a.example.com", extra_params={"alt_names": "x.other.com"}, mount_point=m
            ),
            "issue_uri_san": lambda c, m: pki(c).generate_certificate(
                "web", "a.example.com", extra_params={"uri_sans": "spiffe://x/y"}, mount_point=m
            ),
            "issue_past_the_ca": lambda c, m: pki(c).generate_certificate(
                "web", "a.example.com", extra_params={"ttl": "800h"}, mount_point=m
            ),
            "issue_unknown_role": lambda c, m: pki(c).generate_certificate("nope", "a.example.com", mount_point=m),
            "issue_without_cn": lambda c, m: c.adapter.post(f"/v1/{m}/issue/web", json={}),
            "list_certs": lambda c, m: pki(c).list_certificates(mount_point=m),
            "cert_ca": lambda c, m: pki(c).read_certificate("ca", mount_point=m),
            "cert_unknown": lambda c, m: c.adapter.get(f"/v1/{m}/cert/00:11"),
            "cert_not_hex": lambda c, m: c.adapter.get(f"/v1/{m}/cert/zz"),
            "list_issuers": lambda c, m: pki(c).list_issuers(mount_point=m),
            "read_issuer": lambda c, m: pki(c).read_issuer("default", mount_point=m),
            "read_urls": lambda c, m: pki(c).read_urls(mount_point=m),
            "set_urls": lambda c, m: pki(c).set_urls({"issuing_certificates": "http://127.0.0.1/ca"}, mount_point=m),
            "rotate_crl": lambda c, m: pki(c).rotate_crl(mount_point=m),
            "revoke_unknown": lambda c, m: pki(c).revoke_certificate("00:11:22", mount_point=m),
            "bad_key_bits": lambda c, m: pki(c).create_or_update_role("bad", {"key_type": "ec", "key_bits": 512}, mount_point=m),
            "root_generate_bad_type": lambda c, m: c.adapter.post(f"/v1/{m}/root/generate/nope", json={"common_name": "x"}),
        },
        setup=setup,
    )


def test_role_read_has_every_field_openbao_answers(secrethub, bao):
    def setup(client):
        mount = enable_pki(client)
        return mount

    ours, theirs = same_answer(
        secrethub,
        bao,
        lambda c, m: c.secrets.pki.create_or_update_role(
            "r", {"allowed_domains": "a.com,b.com", "key_type": "ec", "max_ttl": "2h"}, mount_point=m
        ),
        setup=setup,
    )
    assert set(ours.body["data"]) == set(theirs.body["data"])
    for field in ("allowed_domains", "key_bits", "max_ttl", "key_usage", "ttl", "not_before_duration"):
        assert ours.body["data"][field] == theirs.body["data"][field], field


def csr_for(names, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    )
    builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return key, builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def test_sign_and_sign_verbatim(server, pki):
    mount, root = pki
    web_role(server, mount)
    key, csr = csr_for(["api.example.com", "www.example.com"])
    signed = server.secrets.pki.sign_certificate("web", csr, "api.example.com", mount_point=mount)["data"]
    leaf = cert_of(signed["certificate"])
    leaf.verify_directly_issued_by(cert_of(root["certificate"]))
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["api.example.com", "www.example.com"]
    assert "private_key" not in signed

    _, evil = csr_for(["evil.test"])
    with pytest.raises(hvac.exceptions.InvalidRequest) as refused:
        server.secrets.pki.sign_certificate("web", evil, "evil.test", mount_point=mount)
    assert "common name evil.test not allowed by this role" in str(refused.value)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        server.secrets.pki.sign_certificate(
            "web", "-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n-----END CERTIFICATE REQUEST-----\n", "api.example.com", mount_point=mount
        )
    assert last_status() == 400
    # Verbatim: the CSR's names as they are, no role checks.
    verbatim = server.secrets.pki.sign_verbatim(evil, extra_params={"ttl": "1h"}, mount_point=mount)["data"]
    names = cert_of(verbatim["certificate"]).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["evil.test"]


def openssl_crl_text(der):
    with tempfile.NamedTemporaryFile(suffix=".crl") as f:
        f.write(der)
        f.flush()
        return subprocess.run(
            ["openssl", "crl", "-inform", "DER", "-noout", "-text", "-in", f.name],
            check=True, capture_output=True, text=True,
        ).stdout


def test_revoke_puts_the_serial_in_the_crl(server, pki):
    mount, root = pki
    web_role(server, mount)
    pki_api = server.secrets.pki
    keep = pki_api.generate_certificate("web", "keep.example.com", mount_point=mount)["data"]
    gone = pki_api.generate_certificate("web", "gone.example.com", mount_point=mount)["data"]
    revoked = pki_api.revoke_certificate(gone["serial_number"], mount_point=mount)["data"]
    assert revoked["state"] == "revoked" and revoked["revocation_time"] > 0
    # By certificate too (the same one again: the first revocation time stays).
    again = server.adapter.post(f"/v1/{mount}/revoke", json={"certificate": gone["certificate"]})["data"]
    assert again["revocation_time"] == revoked["revocation_time"]
    read = pki_api.read_certificate(gone["serial_number"], mount_point=mount)["data"]
    assert read["revocation_time"] == revoked["revocation_time"]

    der = requests.get(f"{server.url}/v1/{mount}/crl", timeout=10)
    assert der.status_code == 200 and der.headers["Content-Type"] == "application/pkix-crl"
    text = openssl_crl_text(der.content)
    assert gone["serial_number"].replace(":", "").upper() in text
    assert keep["serial_number"].replace(":", "").upper() not in text
    crl = x509.load_pem_x509_crl(pki_api.read_crl(mount_point=mount).encode())
    assert crl.is_signature_valid(cert_of(root["certificate"]).public_key())
    assert crl.get_revoked_certificate_by_serial_number(int(gone["serial_number"].replace(":", ""), 16))
    assert crl.get_revoked_certificate_by_serial_number(int(keep["serial_number"].replace(":", ""), 16)) is None
    before = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    pki_api.rotate_crl(mount_point=mount)
    rotated = x509.load_pem_x509_crl(pki_api.read_crl(mount_point=mount).encode())
    assert rotated.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > before


def test_unauthenticated_paths(server, pki):
    mount, root = pki
    base = f"{server.url}/v1/{mount}"
    pem = requests.get(f"{base}/ca/pem", timeout=10)
    assert pem.status_code == 200 and pem.headers["Content-Type"] == "application/pem-certificate-chain"
    assert pem.text.strip() == root["certificate"].strip()
    der = requests.get(f"{base}/ca", timeout=10)
    assert der.headers["Content-Type"] == "application/pkix-cert"
    assert x509.load_der_x509_certificate(der.content) == cert_of(root["certificate"])
    assert requests.get(f"{base}/ca_chain", timeout=10).status_code == 200
    assert requests.get(f"{base}/crl/pem", timeout=10).status_code == 200
    assert requests.request("LIST", f"{base}/issuers", timeout=10).status_code == 200
    # Everything else needs a token.
    assert requests.request("LIST", f"{base}/certs", timeout=10).status_code == 403
    assert requests.post(f"{base}/issue/web", json={"common_name": "a.example.com"}, timeout=10).status_code == 403


def test_empty_mount_answers_no_content(server):
    mount = enable_pki(server)
    try:
        for path in ("ca", "ca/pem", "crl", "crl/pem"):
            assert requests.get(f"{server.url}/v1/{mount}/{path}", timeout=10).status_code == 204, path
        with pytest.raises(hvac.exceptions.InvalidRequest):
            server.secrets.pki.read_certificate("ca", mount_point=mount)
    finally:
        server.sys.disable_secrets_engine(mount)


def test_tls_handshake_with_an_issued_certificate(server, pki):
    mount, root = pki
    web_role(server, mount)
    issued = server.secrets.pki.generate_certificate("web", "tls.example.com", mount_point=mount)["data"]
    with tempfile.TemporaryDirectory() as d:
        open(f"{d}/cert.pem", "w").write(issued["certificate"] + "\n")
        open(f"{d}/key.pem", "w").write(issued["private_key"] + "\n")
        open(f"{d}/ca.pem", "w").write(root["certificate"] + "\n")
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(f"{d}/cert.pem", f"{d}/key.pem")
        client_ctx = ssl.create_default_context(cafile=f"{d}/ca.pem")
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]

        def serve():
            for _ in range(2):
                conn, _ = listener.accept()
                try:
                    with server_ctx.wrap_socket(conn, server_side=True) as tls:
                        tls.sendall(tls.recv(5))
                except (ssl.SSLError, OSError):
                    pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with client_ctx.wrap_socket(raw, server_hostname="tls.example.com") as tls:
                tls.sendall(b"hello")
                assert tls.recv(5) == b"hello"
        # A client that trusts only the system roots refuses the same server.
        with pytest.raises(ssl.SSLCertVerificationError):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                ssl.create_default_context().wrap_socket(raw, server_hostname="tls.example.com")
        thread.join(10)
        listener.close()

def test_tidy_and_generate_lease(server, pki):
    mount, _ = pki
    web_role(server, mount, name="leased", generate_lease=True)
    issued = server.secrets.pki.generate_certificate("leased", "l.example.com", mount_point=mount)
    assert issued["lease_id"].startswith(f"{mount}/issue/leased/")
    assert issued["lease_duration"] > 0
    server.sys.revoke_lease(issued["lease_id"])
    read = server.secrets.pki.read_certificate(issued["data"]["serial_number"], mount_point=mount)["data"]
    assert read["revocation_time"] > 0
    tidy = server.secrets.pki.tidy(extra_params={"tidy_cert_store": True, "safety_buffer": "1s"}, mount_point=mount)
    assert tidy.status_code == 202
    # Not expired yet: still there.
    server.secrets.pki.read_certificate(issued["data"]["serial_number"], mount_point=mount)


def test_issuers_default_and_delete_root(server, pki):
    mount, first = pki
    pki_api = server.secrets.pki
    second = pki_api.generate_root(
        "internal", "Second Root", extra_params={"key_type": "ec", "issuer_name": "second", "ttl": "700h"}, mount_point=mount
    )["data"]
    config = server.adapter.get(f"/v1/{mount}/config/issuers")["data"]
    assert config == {"default": first["issuer_id"], "default_follows_latest_issuer": False}
    changed = server.adapter.post(f"/v1/{mount}/config/issuers", json={"default": "second"})["data"]
    assert changed["default"] == second["issuer_id"]
    assert pki_api.read_ca_certificate(mount_point=mount).strip() == second["certificate"].strip()
    listed = pki_api.list_issuers(mount_point=mount)["data"]
    assert sorted(listed["keys"]) == sorted([first["issuer_id"], second["issuer_id"]])
    assert listed["key_info"][second["issuer_id"]]["is_default"] is True
    issuer = pki_api.read_issuer("second", mount_point=mount)["data"]
    assert issuer["issuer_id"] == second["issuer_id"] and issuer["issuer_name"] == "second"
    base = f"{server.url}/v1/{mount}/issuer/second"
    assert requests.get(f"{base}/pem", timeout=10).text.strip() == second["certificate"].strip()
    der = requests.get(f"{base}/der", timeout=10)
    assert x509.load_der_x509_certificate(der.content) == cert_of(second["certificate"])
    as_json = requests.get(f"{base}/json", timeout=10).json()["data"]
    assert as_json["issuer_id"] == second["issuer_id"]
    chain = pki_api.read_certificate("ca_chain", mount_point=mount)["data"]
    assert chain["ca_chain"].strip() == second["certificate"].strip()
    with pytest.raises(hvac.exceptions.InvalidRequest):
        server.adapter.post(f"/v1/{mount}/config/issuers", json={"default": "nope"})
    # sign-verbatim under a role: the role's TTL.
    web_role(server, mount, ttl="2h")
    _, csr = csr_for(["v.example.com"])
    verbatim = server.adapter.post(f"/v1/{mount}/sign-verbatim/web", json={"csr": csr})["data"]
    leaf = cert_of(verbatim["certificate"])
    leaf.verify_directly_issued_by(cert_of(second["certificate"]))
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(hours=2, seconds=30)

    deleted = pki_api.delete_root(mount_point=mount)
    assert last_status() == 200 and deleted["warnings"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        pki_api.list_issuers(mount_point=mount)
    assert requests.get(f"{server.url}/v1/{mount}/ca/pem", timeout=10).status_code == 204


def test_issuer_config_shapes_match_openbao(secrethub, bao):
    def setup(client):
        mount = enable_pki(client)
        client.secrets.pki.generate_root(
            "internal", "Config Root", extra_params={"key_type": "ec", "issuer_name": "cfg", "ttl": "700h"}, mount_point=mount
        )
        return mount

    same_answers(
        secrethub,
        bao,
        {
            "read_config_issuers": lambda c, m: c.adapter.get(f"/v1/{m}/config/issuers"),
            "write_config_issuers": lambda c, m: c.adapter.post(f"/v1/{m}/config/issuers", json={"default": "cfg"}),
            "unknown_default": lambda c, m: c.adapter.post(f"/v1/{m}/config/issuers", json={"default": "nope"}),
            "issuer_json": lambda c, m: c.adapter.get(f"/v1/{m}/issuer/cfg/json"),
            "cert_ca_chain": lambda c, m: c.secrets.pki.read_certificate("ca_chain", mount_point=m),
            "delete_root": lambda c, m: c.secrets.pki.delete_root(mount_point=m),
        },
        setup=setup,
    )


def openssl_verify(root_pem, chain_pems, leaf_pem):
    with tempfile.TemporaryDirectory() as d:
        open(f"{d}/root.pem", "w").write(root_pem.strip() + "\n")
        open(f"{d}/chain.pem", "w").write("\n".join(p.strip() for p in chain_pems) + "\n")
        open(f"{d}/leaf.pem", "w").write(leaf_pem.strip() + "\n")
        args = ["openssl", "verify", "-CAfile", f"{d}/root.pem"]
        if chain_pems:
            args += ["-untrusted", f"{d}/chain.pem"]
        return subprocess.run(args + [f"{d}/leaf.pem"], capture_output=True, text=True)


def test_intermediate_ca_issues_a_chain_openssl_verifies(server, pki):
    root_mount, root = pki
    inter_mount = enable_pki(server)
    try:
        pki_api = server.secrets.pki
        generated = pki_api.generate_intermediate(
            "internal", "Test Intermediate", extra_params={"key_type": "ec"}, mount_point=inter_mount
        )["data"]
        signed = pki_api.sign_intermediate(
            generated["csr"], "Test Intermediate", extra_params={"ttl": "300h"}, mount_point=root_mount
        )["data"]
        inter = cert_of(signed["certificate"])
        inter.verify_directly_issued_by(cert_of(root["certificate"]))
        assert inter.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        bundle = signed["certificate"] + "\n" + signed["issuing_ca"]
        imported = pki_api.set_signed_intermediate(bundle, mount_point=inter_mount)["data"]
        assert len(imported["imported_issuers"]) >= 1
        web_role(server, inter_mount)
        leaf = pki_api.generate_certificate("web", "deep.example.com", mount_point=inter_mount)["data"]
        assert len(leaf["ca_chain"]) == 2
        assert leaf["issuing_ca"].strip() == signed["certificate"].strip()
        result = openssl_verify(root["certificate"], [signed["certificate"]], leaf["certificate"])
        assert result.returncode == 0, result.stderr
        # Without the intermediate the leaf does not verify.
        assert openssl_verify(root["certificate"], [], leaf["certificate"]).returncode != 0
        chain = requests.get(f"{server.url}/v1/{inter_mount}/ca_chain", timeout=10).text
        assert chain.count("BEGIN CERTIFICATE") == 2
    finally:
        server.sys.disable_secrets_engine(inter_mount)


def test_intermediate_shapes_match_openbao(secrethub, bao):
    def setup(client):
        root_mount = enable_pki(client)
        client.secrets.pki.generate_root("internal", "Shape Root", extra_params={"key_type": "ec", "ttl": "700h"}, mount_point=root_mount)
        inter_mount = enable_pki(client)
        csr = client.secrets.pki.generate_intermediate(
            "internal", "Shape Intermediate", extra_params={"key_type": "ec"}, mount_point=inter_mount
        )["data"]["csr"]
        return root_mount, inter_mount, csr

    pki = lambda c: c.secrets.pki  # noqa: E731
    same_answers(
        secrethub,
        bao,
        {
            "generate_exported": lambda c, m: pki(c).generate_intermediate(
                "exported", "Another", extra_params={"key_type": "ec"}, mount_point=m[1]
            ),
            "generate_internal": lambda c, m: pki(c).generate_intermediate(
                "internal", "Another", extra_params={"key_type": "ec"}, mount_point=m[1]
            ),
            "sign_intermediate": lambda c, m: pki(c).sign_intermediate(
                m[2], "Shape Intermediate", extra_params={"ttl": "100h"}, mount_point=m[0]
            ),
            "sign_junk": lambda c, m: pki(c).sign_intermediate("junk", "x", mount_point=m[0]),
            "set_signed": lambda c, m: pki(c).set_signed_intermediate(
                (lambda s: s["certificate"] + "\n" + s["issuing_ca"])(
                    pki(c).sign_intermediate(m[2], "Shape Intermediate", extra_params={"ttl": "100h"}, mount_point=m[0])["data"]
                ),
                mount_point=m[1],
            ),
            "set_signed_junk": lambda c, m: pki(c).set_signed_intermediate("junk", mount_point=m[1]),
        },
        setup=setup,
    )


def test_issuer_update_truncates_and_delete(server):
    mount = enable_pki(server)
    try:
        pki_api = server.secrets.pki
        root = pki_api.generate_root(
            "internal", "Short Root", extra_params={"key_type": "ec", "ttl": "10h", "issuer_name": "short"}, mount_point=mount
        )["data"]
        web_role(server, mount)
        with pytest.raises(hvac.exceptions.InvalidRequest):
            pki_api.generate_certificate("web", "a.example.com", extra_params={"ttl": "20h"}, mount_point=mount)
        updated = pki_api.update_issuer("short", extra_params={"leaf_not_after_behavior": "truncate", "issuer_name": "renamed"}, mount_point=mount)["data"]
        assert updated["leaf_not_after_behavior"] == "truncate" and updated["issuer_name"] == "renamed"
        leaf = pki_api.generate_certificate("web", "a.example.com", extra_params={"ttl": "20h"}, mount_point=mount)["data"]
        assert leaf["expiration"] == root["expiration"]
        with pytest.raises(hvac.exceptions.InvalidRequest):
            pki_api.update_issuer("renamed", extra_params={"leaf_not_after_behavior": "bogus"}, mount_point=mount)
        deleted = pki_api.delete_issuer("renamed", mount_point=mount)
        assert "configured as the default issuer" in deleted["warnings"][0]
        assert server.adapter.get(f"/v1/{mount}/config/issuers")["data"]["default"] == ""
        # No issuer to sign with (OpenBao answers 500, SecretHub 400).
        with pytest.raises(hvac.exceptions.VaultError):
            pki_api.generate_certificate("web", "a.example.com", mount_point=mount)
    finally:
        server.sys.disable_secrets_engine(mount)


def test_issuer_update_shapes_match_openbao(secrethub, bao):
    def setup(client):
        mount = enable_pki(client)
        client.secrets.pki.generate_root("internal", "Upd Root", extra_params={"key_type": "ec", "ttl": "700h", "issuer_name": "upd"}, mount_point=mount)
        return mount

    same_answers(
        secrethub,
        bao,
        {
            "update": lambda c, m: c.secrets.pki.update_issuer("upd", extra_params={"leaf_not_after_behavior": "permit"}, mount_point=m),
            "bad_behavior": lambda c, m: c.secrets.pki.update_issuer("upd", extra_params={"leaf_not_after_behavior": "bogus"}, mount_point=m),
            "delete": lambda c, m: c.secrets.pki.delete_issuer("upd", mount_point=m),
        },
        setup=setup,
    )


def ocsp_post(server, mount, request_der):
    return requests.post(
        f"{server.url}/v1/{mount}/ocsp",
        data=request_der,
        headers={"Content-Type": "application/ocsp-request"},
        timeout=10,
    )


def test_ocsp_answers_good_revoked_and_unknown(server, pki):
    mount, root = pki
    web_role(server, mount)
    ca = cert_of(root["certificate"])
    good = cert_of(server.secrets.pki.generate_certificate("web", "good.example.com", mount_point=mount)["data"]["certificate"])
    gone_data = server.secrets.pki.generate_certificate("web", "gone.example.com", mount_point=mount)["data"]
    gone = cert_of(gone_data["certificate"])
    revoked_at = server.secrets.pki.revoke_certificate(gone_data["serial_number"], mount_point=mount)["data"]["revocation_time"]

    def ask(cert, issuer, algorithm=hashes.SHA1(), via="post"):
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm).build()
        der = request.public_bytes(serialization.Encoding.DER)
        if via == "post":
            answer = ocsp_post(server, mount, der)
        else:
            encoded = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
            answer = requests.get(f"{server.url}/v1/{mount}/ocsp/{encoded}", timeout=10)
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/ocsp-response"
        response = ocsp.load_der_ocsp_response(answer.content)
        assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        ca.public_key().verify(response.signature, response.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
        assert response.serial_number == cert.serial_number
        return response

    assert ask(good, ca).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert ask(good, ca, hashes.SHA256(), via="get").certificate_status == ocsp.OCSPCertStatus.GOOD
    revoked = ask(gone, ca, via="get")
    assert revoked.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert int(revoked.revocation_time_utc.timestamp()) == revoked_at
    assert revoked.next_update_utc - revoked.this_update_utc == datetime.timedelta(hours=12)
    # A certificate of another CA: unknown.
    other = enable_pki(server)
    try:
        other_root = server.secrets.pki.generate_root("internal", "Other", extra_params={"key_type": "ec", "ttl": "700h"}, mount_point=other)["data"]
        web_role(server, other)
        stranger = cert_of(server.secrets.pki.generate_certificate("web", "s.example.com", mount_point=other)["data"]["certificate"])
        assert ask(stranger, cert_of(other_root["certificate"])).certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    finally:
        server.sys.disable_secrets_engine(other)

    # openssl's own client, verifying the response against the root.
    with tempfile.TemporaryDirectory() as d:
        for name, cert in (("ca", ca), ("good", good), ("gone", gone)):
            open(f"{d}/{name}.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
        # One certificate a request: OpenBao answers only the first of several.
        for name, status in (("good", "good"), ("gone", "revoked")):
            out = subprocess.run(
                ["openssl", "ocsp", "-issuer", f"{d}/ca.pem", "-cert", f"{d}/{name}.pem",
                 "-url", f"{server.url}/v1/{mount}/ocsp", "-CAfile", f"{d}/ca.pem", "-no_nonce"],
                capture_output=True, text=True, timeout=30,
            )
            assert "Response verify OK" in out.stderr + out.stdout, out
            assert f"{d}/{name}.pem: {status}" in out.stdout, out


def test_ocsp_get_whose_base64_ends_in_a_slash(server, pki):
    # A request a multiple of three bytes long has unpadded base64, which ends in "/" for one
    # last byte in 64: the path's trailing slash must still reach the responder.
    mount, root = pki
    ca = cert_of(root["certificate"])
    name_hash = hashes.Hash(hashes.SHA1())
    name_hash.update(ca.subject.public_bytes())
    key_hash = hashes.Hash(hashes.SHA1())
    key_hash.update(ca.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
    name_hash, key_hash = name_hash.finalize(), key_hash.finalize()
    for serial in range(1 << 32, 1 << 33):  # a 72-byte request: a multiple of three
        der = ocsp.OCSPRequestBuilder().add_certificate_by_hash(name_hash, key_hash, serial, hashes.SHA1()).build().public_bytes(serialization.Encoding.DER)
        encoded = base64.b64encode(der).decode()
        if encoded.endswith("//"):
            break
    assert encoded.endswith("//")
    answer = requests.get(f"{server.url}/v1/{mount}/ocsp/{urllib.parse.quote(encoded, safe='')}", timeout=10)
    assert answer.status_code == 200, answer.content
    response = ocsp.load_der_ocsp_response(answer.content)
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.serial_number == serial
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD


def test_ocsp_malformed_requests_match_openbao(secrethub, bao):
    answers = []
    for client in (secrethub, bao):
        mount = enable_pki(client)
        try:
            client.secrets.pki.generate_root("internal", "O Root", extra_params={"key_type": "ec", "ttl": "700h"}, mount_point=mount)
            posted = ocsp_post(client, mount, b"junk")
            fetched = requests.get(f"{client.url}/v1/{mount}/ocsp/junk", timeout=10)
            answers.append([(r.status_code, r.headers["Content-Type"], r.content) for r in (posted, fetched)])
        finally:
            client.sys.disable_secrets_engine(mount)
    assert answers[0] == answers[1]
    assert answers[0][0] == (400, "application/ocsp-response", bytes.fromhex("3003 0a01 01"))


def test_crl_configuration(server, pki):
    mount, root = pki
    pki_api = server.secrets.pki
    config = pki_api.read_crl_configuration(mount_point=mount)["data"]
    assert config["expiry"] == "72h" and config["disable"] is False
    pki_api.set_crl_configuration(expiry="48h", mount_point=mount)
    assert pki_api.read_crl_configuration(mount_point=mount)["data"]["expiry"] == "48h"
    pki_api.rotate_crl(mount_point=mount)
    crl = x509.load_pem_x509_crl(pki_api.read_crl(mount_point=mount).encode())
    assert crl.next_update_utc - crl.last_update_utc == datetime.timedelta(hours=48)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        pki_api.set_crl_configuration(expiry="bogus", mount_point=mount)


def test_crl_configuration_shapes_match_openbao(secrethub, bao):
    def setup(client):
        mount = enable_pki(client)
        client.secrets.pki.generate_root("internal", "Crl Root", extra_params={"key_type": "ec", "ttl": "700h"}, mount_point=mount)
        return mount

    same_answers(
        secrethub,
        bao,
        {
            "read": lambda c, m: c.secrets.pki.read_crl_configuration(mount_point=m),
            "write": lambda c, m: c.secrets.pki.set_crl_configuration(expiry="48h", mount_point=m),
            "bad_expiry": lambda c, m: c.secrets.pki.set_crl_configuration(expiry="bogus", mount_point=m),
            "grace_longer_without_auto_rebuild": lambda c, m: c.secrets.pki.set_crl_configuration(
                extra_params={"auto_rebuild_grace_period": "100h"}, mount_point=m
            ),
            "grace_too_long": lambda c, m: c.secrets.pki.set_crl_configuration(
                extra_params={"auto_rebuild_grace_period": "100h", "auto_rebuild": True}, mount_point=m
            ),
        },
        setup=setup,
    )


def test_issuer_scoped_paths_and_tidy_status_match_openbao(secrethub, bao):
    def setup(client):
        mount = enable_pki(client)
        client.secrets.pki.generate_root("internal", "Scoped Root", extra_params={"key_type": "ec", "ttl": "700h", "issuer_name": "scoped"}, mount_point=mount)
        web_role(client, mount)
        return mount

    _, csr = csr_for(["s.example.com"])
    same_answers(
        secrethub,
        bao,
        {
            "issue": lambda c, m: c.adapter.post(f"/v1/{m}/issuer/scoped/issue/web", json={"common_name": "s.example.com"}),
            "sign": lambda c, m: c.adapter.post(f"/v1/{m}/issuer/scoped/sign/web", json={"csr": csr}),
            "sign_verbatim": lambda c, m: c.adapter.post(f"/v1/{m}/issuer/scoped/sign-verbatim", json={"csr": csr, "ttl": "1h"}),
            "issuer_crl": lambda c, m: c.adapter.get(f"/v1/{m}/issuer/scoped/crl"),
            "tidy_status_before": lambda c, m: c.adapter.get(f"/v1/{m}/tidy-status"),
            "tidy_status_after": lambda c, m: (
                c.secrets.pki.tidy(extra_params={"tidy_cert_store": True}, mount_point=m),
                c.adapter.get(f"/v1/{m}/tidy-status"),
            )[1],
        },
        setup=setup,
    )


def test_unknown_key_is_a_client_error(secrethub):
    """OpenBao answers 500 for a key reference that names nothing; SecretHub a 400."""
    mount = enable_pki(secrethub)
    try:
        with pytest.raises(hvac.exceptions.InvalidRequest) as refused:
            secrethub.adapter.get(f"/v1/{mount}/key/nope")
        assert "unable to find PKI key for reference: nope" in str(refused.value)
    finally:
        secrethub.sys.disable_secrets_engine(mount)


def test_unknown_issuer_is_a_client_error(secrethub):
    """OpenBao answers 500 for an issuer reference that names nothing; SecretHub a 400 with
    the same message (README, differences)."""
    mount = enable_pki(secrethub)
    try:
        web_role(secrethub, mount)
        with pytest.raises(hvac.exceptions.InvalidRequest) as refused:
            secrethub.adapter.post(f"/v1/{mount}/issuer/nope/issue/web", json={"common_name": "s.example.com"})
        assert "unable to find PKI issuer for reference: nope" in str(refused.value)
    finally:
        secrethub.sys.disable_secrets_engine(mount)


def test_issuer_crl_forms(server, pki):
    mount, root = pki
    base = f"{server.url}/v1/{mount}/issuer/default/crl"
    pem = requests.get(f"{base}/pem", timeout=10)
    assert pem.headers["Content-Type"] == "application/x-pem-file"
    der = requests.get(f"{base}/der", timeout=10)
    assert der.headers["Content-Type"] == "application/pkix-crl"
    assert x509.load_der_x509_crl(der.content) == x509.load_pem_x509_crl(pem.content)
    assert x509.load_der_x509_crl(der.content).is_signature_valid(cert_of(root["certificate"]).public_key())


def external_ca(key):
    """A self-signed CA made outside any server, with its key in OpenSSL's traditional form
    ("EC PRIVATE KEY" / "RSA PRIVATE KEY")."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "External CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=20))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    return cert, key_pem + cert.public_bytes(serialization.Encoding.PEM).decode()


def test_config_ca_imports_an_external_ca(server):
    from cryptography.hazmat.primitives.asymmetric import rsa

    for key in (ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 2048)):
        mount = enable_pki(server)
        try:
            cert, bundle = external_ca(key)
            if isinstance(key, ec.EllipticCurvePrivateKey):
                imported = server.secrets.pki.submit_ca_information(bundle, mount_point=mount)["data"]
            else:
                imported = server.adapter.post(f"/v1/{mount}/issuers/import/bundle", json={"pem_bundle": bundle})["data"]
            assert len(imported["imported_issuers"]) == 1
            web_role(server, mount)
            leaf = server.secrets.pki.generate_certificate("web", "x.example.com", extra_params={"ttl": "1h"}, mount_point=mount)["data"]
            cert_of(leaf["certificate"]).verify_directly_issued_by(cert)
            again = server.secrets.pki.submit_ca_information(bundle, mount_point=mount)["data"]
            assert again["existing_issuers"] == imported["imported_issuers"]
        finally:
            server.sys.disable_secrets_engine(mount)


def test_config_ca_shapes_match_openbao(secrethub, bao):
    _, bundle = external_ca(ec.generate_private_key(ec.SECP256R1()))
    same_answers(
        secrethub,
        bao,
        {
            "import": lambda c, m: c.secrets.pki.submit_ca_information(bundle, mount_point=m),
            "junk": lambda c, m: c.secrets.pki.submit_ca_information("junk", mount_point=m),
        },
        setup=enable_pki,
    )


def test_sign_self_issued_cross_signs_a_new_root(server, pki):
    mount, old_root = pki
    new_mount = enable_pki(server)
    try:
        new_root = server.secrets.pki.generate_root(
            "internal", "New Root", extra_params={"key_type": "ec", "ttl": "600h"}, mount_point=new_mount
        )["data"]
        crossed = server.secrets.pki.sign_self_issued(new_root["certificate"], mount_point=mount)["data"]
        assert crossed["issuing_ca"].strip() == old_root["certificate"].strip()
        cross = cert_of(crossed["certificate"])
        cross.verify_directly_issued_by(cert_of(old_root["certificate"]))
        assert cross.subject == cert_of(new_root["certificate"]).subject
        assert cross.public_key().public_numbers() == cert_of(new_root["certificate"]).public_key().public_numbers()
        # A leaf of the new root verifies through the cross-signed certificate to the old root.
        web_role(server, new_mount)
        leaf = server.secrets.pki.generate_certificate("web", "x.example.com", mount_point=new_mount)["data"]
        result = openssl_verify(old_root["certificate"], [crossed["certificate"]], leaf["certificate"])
        assert result.returncode == 0, result.stderr
    finally:
        server.sys.disable_secrets_engine(new_mount)


def test_sign_self_issued_shapes_match_openbao(secrethub, bao):
    def setup(client):
        mount = enable_pki(client)
        root = client.secrets.pki.generate_root("internal", "Old", extra_params={"key_type": "ec", "ttl": "700h"}, mount_point=mount)["data"]
        web_role(client, mount)
        leaf = client.secrets.pki.generate_certificate("web", "l.example.com", mount_point=mount)["data"]
        return mount, root, leaf

    same_answers(
        secrethub,
        bao,
        {
            "itself": lambda c, s: c.secrets.pki.sign_self_issued(s[1]["certificate"], mount_point=s[0]),
            "a_leaf": lambda c, s: c.secrets.pki.sign_self_issued(s[2]["certificate"], mount_point=s[0]),
            "junk": lambda c, s: c.secrets.pki.sign_self_issued("junk", mount_point=s[0]),
        },
        setup=setup,
    )


def test_not_after_fixes_the_end(server, pki):
    mount, _ = pki
    web_role(server, mount)
    end = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=5)).replace(microsecond=0)
    text = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    issued = server.secrets.pki.generate_certificate(
        "web", "n.example.com", extra_params={"not_after": text}, mount_point=mount
    )["data"]
    assert issued["expiration"] == int(end.timestamp())
    assert cert_of(issued["certificate"]).not_valid_after_utc == end
    with pytest.raises(hvac.exceptions.InvalidRequest):
        server.secrets.pki.generate_certificate("web", "n.example.com", extra_params={"not_after": "tomorrow"}, mount_point=mount)


class _ChallengeServer:
    """http-01 answers on 127.0.0.1:80, where an ACME server validates `localhost`."""

    def __init__(self):
        import http.server

        answers = self.answers = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = answers.get(self.path)
                self.send_response(200 if body else 404)
                self.end_headers()
                if body:
                    self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        try:
            self.httpd = http.server.HTTPServer(("127.0.0.1", 80), Handler)
        except PermissionError:
            # A failure, not a skip: a skipped test would pass the suite unseen.
            pytest.fail("binding port 80 for http-01 needs root (the CI machine runs as root)")
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def enable_acme(client, mount):
    client.adapter.post(f"/v1/{mount}/config/cluster", json={"path": f"{client.url}/v1/{mount}"})
    assert client.adapter.get(f"/v1/{mount}/config/cluster")["data"]["path"] == f"{client.url}/v1/{mount}"
    assert client.adapter.get(f"/v1/{mount}/config/acme")["data"]["enabled"] is False
    return client.adapter.post(f"/v1/{mount}/config/acme", json={"enabled": True})["data"]


def test_acme_client_obtains_a_certificate(secrethub):
    """certbot's ACME library (PyPI acme) against SecretHub: account, order, http-01 served on
    port 80 for `localhost`, finalize, certificate chain verified under the root. (OpenBao
    serves ACME over TLS only, so it is not compared here.)"""
    import josepy as jose
    from acme import challenges, messages
    from acme import client as acme_client
    from acme import crypto_util

    mount = enable_pki(secrethub)
    server = _ChallengeServer()
    try:
        root = secrethub.secrets.pki.generate_root(
            "internal", "ACME Root", extra_params={"key_type": "ec", "ttl": "700h"}, mount_point=mount
        )["data"]
        assert requests.get(f"{secrethub.url}/v1/{mount}/acme/directory", timeout=10).status_code == 403
        assert enable_acme(secrethub, mount)["enabled"] is True
        directory_url = f"{secrethub.url}/v1/{mount}/acme/directory"
        account_key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        net = acme_client.ClientNetwork(account_key, alg=jose.ES256, user_agent="secrethub-tests")
        client = acme_client.ClientV2(acme_client.ClientV2.get_directory(directory_url, net), net)
        account = client.new_account(messages.NewRegistration.from_data(email="ops@example.com", terms_of_service_agreed=True))
        assert str(account.body.status) == "valid"
        assert str(client.query_registration(account).body.status) == "valid"

        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf_key_pem = leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        order = client.new_order(crypto_util.make_csr(leaf_key_pem, ["localhost"]))
        for authz in order.authorizations:
            chall = next(c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01))
            response, validation = chall.response_and_validation(account_key)
            server.answers[chall.chall.path] = validation
            client.answer_challenge(chall, response)
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=30)
        done = client.poll_and_finalize(order, deadline)
        pems = [p + "-----END CERTIFICATE-----\n" for p in done.fullchain_pem.split("-----END CERTIFICATE-----") if p.strip()]
        leaf = cert_of(pems[0])
        leaf.verify_directly_issued_by(cert_of(root["certificate"]))
        assert leaf.public_key().public_numbers() == leaf_key.public_key().public_numbers()
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
        # Revoked over ACME by the account that ordered it: the CRL lists it.
        client.revoke(leaf, 0)
        crl = x509.load_pem_x509_crl(secrethub.secrets.pki.read_crl(mount_point=mount).encode())
        assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None
        with pytest.raises(Exception, match="alreadyRevoked|revoked already"):
            client.revoke(leaf, 0)
        # A challenge for a name whose server answers something else: the order goes invalid.
        bad = client.new_order(crypto_util.make_csr(leaf_key_pem, ["localhost"]))
        chall = next(c for c in bad.authorizations[0].body.challenges if isinstance(c.chall, challenges.HTTP01))
        server.answers[chall.chall.path] = "wrong"
        client.answer_challenge(chall, chall.response(account_key))
        with pytest.raises(Exception):
            client.poll_and_finalize(bad, datetime.datetime.now() + datetime.timedelta(seconds=5))
    finally:
        server.close()
        secrethub.sys.disable_secrets_engine(mount)


def test_acme_nonces_and_refusals(secrethub):
    mount = enable_pki(secrethub)
    try:
        secrethub.secrets.pki.generate_root("internal", "R", extra_params={"key_type": "ec", "ttl": "700h"}, mount_point=mount)
        enable_acme(secrethub, mount)
        base = f"{secrethub.url}/v1/{mount}/acme"
        head = requests.head(f"{base}/new-nonce", timeout=10)
        assert head.status_code == 200 and head.headers["Replay-Nonce"]
        assert head.headers["Link"] == f'<{base}/directory>;rel="index"'
        directory = requests.get(f"{base}/directory", timeout=10).json()
        assert directory["newOrder"] == f"{base}/new-order"
        # A JWS with a nonce never issued.
        bad = requests.post(
            f"{base}/new-account",
            json={"protected": "eyJhbGciOiJFUzI1NiIsIm5vbmNlIjoibm9wZSJ9", "payload": "", "signature": ""},
            headers={"Content-Type": "application/jose+json"},
            timeout=10,
        )
        assert bad.status_code == 400
        assert bad.headers["Content-Type"] == "application/problem+json"
        assert bad.json()["type"] == "urn:ietf:params:acme:error:badNonce"
    finally:
        secrethub.sys.disable_secrets_engine(mount)


def test_keys_and_issuer_paths_match_openbao(secrethub, bao):
    def setup(client):
        mount = enable_pki(client)
        root = client.adapter.post(
            f"/v1/{mount}/issuers/generate/root/internal",
            json={"common_name": "Keys Root", "key_type": "ec", "ttl": "700h", "key_name": "rk", "issuer_name": "kr"},
        )["data"]
        csr = client.adapter.post(
            f"/v1/{mount}/issuers/generate/intermediate/internal", json={"common_name": "Sub", "key_type": "ec"}
        )["data"]["csr"]
        return mount, root, csr

    same_answers(
        secrethub,
        bao,
        {
            "list_keys": lambda c, s: c.adapter.list(f"/v1/{s[0]}/keys"),
            "read_key": lambda c, s: c.adapter.get(f"/v1/{s[0]}/key/rk"),
            "read_default_key": lambda c, s: c.adapter.get(f"/v1/{s[0]}/key/default"),
            "issuer_sign_intermediate": lambda c, s: c.adapter.post(
                f"/v1/{s[0]}/issuer/kr/sign-intermediate", json={"csr": s[2], "common_name": "Sub", "ttl": "10h"}
            ),
            "issuer_sign_self_issued": lambda c, s: c.adapter.post(
                f"/v1/{s[0]}/issuer/kr/sign-self-issued", json={"certificate": s[1]["certificate"]}
            ),
        },
        setup=setup,
    )
