"""The jwt, kubernetes and aws auth methods through hvac, compared with a real OpenBao dev
server.

- jwt: driven end to end. The test makes an RSA key (`cryptography`), configures it as
  `jwt_validation_pubkeys`, signs its own JWTs and logs in with them; bound audiences and a
  wrong signature are refused.
- kubernetes: `config` and `role` CRUD, and `login` reached with a service account token the
  server cannot verify (its `kubernetes_host` is a closed local port), which both refuse. Not
  driven end to end here: a successful login needs a TokenReview API; it is driven against a
  local TokenReview server by crates/auth/kubernetes's tests and the agent's tests.
- aws: SecretHub only (OpenBao 2.7 has no aws auth method: "plugin not found in the
  catalog: aws"). `config/client`, `config/identity` and `role` CRUD, and `login` reached with a request
  hvac signs (`iam_login`) that the server forwards to an STS endpoint on a closed local port,
  which it refuses. Not driven end to end here: a successful login needs STS; it is driven
  against a real local moto server by crates/auth/aws's tests and auth_cli.rs."""

import base64
import json
import socket
import time

import hvac
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import compat
from compat import same_answer, same_answers, unique

AUDIENCE = "secrethub-compat"


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = (
            self.key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def jwt(self, **claims):
        now = int(time.time())
        body = {"iss": "https://ci.example", "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 300}
        body.update(claims)
        header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps(body).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{payload}.{b64url(signature)}"


@pytest.fixture(scope="module")
def signer():
    return Signer()


def setup_jwt(client, signer):
    mount = unique("jwt")
    client.sys.enable_auth_method("jwt", path=mount)
    client.auth.jwt.configure(
        jwt_validation_pubkeys=[signer.public_pem], bound_issuer="https://ci.example", path=mount
    )
    client.auth.jwt.create_role(
        "deploy",
        role_type="jwt",
        user_claim="sub",
        bound_audiences=[AUDIENCE],
        bound_claims={"repository": "org/app"},
        token_policies=["deployer"],
        token_ttl="10m",
        allowed_redirect_uris=None,
        path=mount,
    )
    return mount


def test_jwt_config_and_roles(server, signer):
    mount = setup_jwt(server, signer)
    config = server.auth.jwt.read_config(path=mount)["data"]
    assert [k.strip() for k in config["jwt_validation_pubkeys"]] == [signer.public_pem.strip()]
    assert config["bound_issuer"] == "https://ci.example"
    role = server.auth.jwt.read_role("deploy", path=mount)["data"]
    assert role["user_claim"] == "sub"
    assert role["bound_audiences"] == [AUDIENCE]
    assert role["bound_claims"] == {"repository": "org/app"}
    assert role["token_policies"] == ["deployer"]
    assert role["token_ttl"] == 600
    assert server.auth.jwt.list_roles(path=mount)["data"]["keys"] == ["deploy"]
    server.auth.jwt.delete_role("deploy", path=mount)
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.auth.jwt.read_role("deploy", path=mount)
    server.sys.disable_auth_method(mount)


def test_jwt_login(server, signer):
    mount = setup_jwt(server, signer)
    client = compat.client(server.url, None)
    token = signer.jwt(sub="repo:org/app", repository="org/app")
    auth = client.auth.jwt.jwt_login("deploy", token, path=mount)["auth"]
    assert auth["policies"] == ["default", "deployer"]
    assert auth["lease_duration"] == 600
    assert auth["metadata"]["role"] == "deploy"
    assert client.auth.token.lookup_self()["data"]["display_name"] == f"{mount}-repo:org/app"

    anonymous = compat.client(server.url, None)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        anonymous.auth.jwt.jwt_login("deploy", signer.jwt(sub="x", repository="other"), path=mount)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        anonymous.auth.jwt.jwt_login(
            "deploy", signer.jwt(sub="x", repository="org/app", aud="someone-else"), path=mount
        )
    forged = Signer().jwt(sub="x", repository="org/app")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        anonymous.auth.jwt.jwt_login("deploy", forged, path=mount)
    server.sys.disable_auth_method(mount)


def test_jwt_matches_openbao(secrethub, bao, signer):
    good = signer.jwt(sub="repo:org/app", repository="org/app")
    anonymous = lambda c: compat.client(c.url, None)  # noqa: E731
    outcomes = same_answers(
        secrethub,
        bao,
        {
            "read config": lambda c, m: c.auth.jwt.read_config(path=m),
            "read role": lambda c, m: c.auth.jwt.read_role("deploy", path=m),
            "list roles": lambda c, m: c.auth.jwt.list_roles(path=m),
            "login": lambda c, m: anonymous(c).auth.jwt.jwt_login("deploy", good, path=m),
            "login, unbound claim": lambda c, m: anonymous(c).auth.jwt.jwt_login(
                "deploy", signer.jwt(sub="x", repository="other"), path=m
            ),
            "login, unknown role": lambda c, m: anonymous(c).auth.jwt.jwt_login("nope", good, path=m),
            "delete role": lambda c, m: c.auth.jwt.delete_role("deploy", path=m),
        },
        setup=lambda c: setup_jwt(c, signer),
    )
    # OpenBao's fields of its OIDC flows and newer features, with the same defaults.
    ours, theirs = outcomes["read role"]
    oidc = ("callback_mode", "oauth2_metadata", "oidc_disable_confirmation", "token_policies_template_claims")
    assert [ours.body["data"][k] for k in oidc] == [theirs.body["data"][k] for k in oidc]
    ours, theirs = outcomes["read config"]
    for k in ("override_allowed_server_names", "status"):
        assert ours.body["data"][k] == theirs.body["data"][k], k


def self_signed_ca():
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import datetime

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "compat-test-ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


CA_PEM = self_signed_ca()


def setup_kubernetes(client):
    mount = unique("k8s")
    client.sys.enable_auth_method("kubernetes", path=mount)
    client.auth.kubernetes.configure(
        f"https://127.0.0.1:{closed_port()}",
        kubernetes_ca_cert=CA_PEM,
        disable_local_ca_jwt=True,
        mount_point=mount,
    )
    client.auth.kubernetes.create_role(
        "app",
        bound_service_account_names=["app"],
        bound_service_account_namespaces=["prod"],
        policies=["app"],
        ttl="15m",
        mount_point=mount,
    )
    return mount


def test_kubernetes_config_roles_and_refused_login(server):
    mount = setup_kubernetes(server)
    k8s = server.auth.kubernetes
    # hvac answers the `data` of the kubernetes method's reads.
    config = k8s.read_config(mount_point=mount)
    assert config["kubernetes_host"].startswith("https://127.0.0.1:")
    assert "token_reviewer_jwt" not in config
    role = k8s.read_role("app", mount_point=mount)
    assert role["bound_service_account_names"] == ["app"]
    assert role["bound_service_account_namespaces"] == ["prod"]
    assert role["token_policies"] == ["app"]
    assert role["token_ttl"] == 900
    assert k8s.list_roles(mount_point=mount)["keys"] == ["app"]
    with pytest.raises(hvac.exceptions.VaultError):
        compat.client(server.url, None).auth.kubernetes.login("app", "not.a.jwt", mount_point=mount)
    k8s.delete_role("app", mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidPath):
        k8s.read_role("app", mount_point=mount)
    server.sys.disable_auth_method(mount)


def test_kubernetes_matches_openbao(secrethub, bao):
    outcomes = same_answers(
        secrethub,
        bao,
        {
            "read config": lambda c, m: c.auth.kubernetes.read_config(mount_point=m),
            "read role": lambda c, m: c.auth.kubernetes.read_role("app", mount_point=m),
            "list roles": lambda c, m: c.auth.kubernetes.list_roles(mount_point=m),
            "delete role": lambda c, m: c.auth.kubernetes.delete_role("app", mount_point=m),
        },
        setup=setup_kubernetes,
    )
    # The role was written through the older `policies` and `ttl` (as hvac's create_role
    # sends them): both show them back, with the token_* values.
    ours, theirs = outcomes["read role"]
    for role in (ours.body, theirs.body):
        assert (role["policies"], role["ttl"]) == (["app"], 900)
        assert "max_ttl" not in role and role["bound_service_account_namespace_selector"] == ""
    ours, theirs = outcomes["read config"]
    assert ours.body["token_reviewer_jwt_set"] is theirs.body["token_reviewer_jwt_set"] is False


ROLE_ARN = "arn:aws:iam::123456789012:role/app"


def setup_aws(client):
    mount = unique("aws")
    client.sys.enable_auth_method("aws", path=mount)
    client.auth.aws.configure(
        sts_endpoint=f"http://127.0.0.1:{closed_port()}",
        sts_region="us-east-1",
        iam_server_id_header_value="vault.example",
        max_retries=0,
        mount_point=mount,
    )
    client.adapter.post(f"/v1/auth/{mount}/config/identity", json={"iam_alias": "unique_id"})
    client.auth.aws.create_role(
        "app",
        auth_type="iam",
        bound_iam_principal_arn=[ROLE_ARN],
        resolve_aws_unique_ids=False,
        policies=["app"],
        ttl="30m",
        mount_point=mount,
    )
    return mount


def test_aws_config_roles_and_refused_login(secrethub):
    server = secrethub
    mount = setup_aws(server)
    aws = server.auth.aws
    # hvac answers the `data` of the aws method's reads.
    config = aws.read_config(mount_point=mount)
    assert config["sts_endpoint"].startswith("http://127.0.0.1:")
    assert config["iam_server_id_header_value"] == "vault.example"
    identity = aws.read_identity_integration(mount_point=mount)
    assert identity["iam_alias"] == "unique_id"
    role = aws.read_role("app", mount_point=mount)
    assert role["auth_type"] == "iam"
    assert role["bound_iam_principal_arn"] == [ROLE_ARN]
    assert role["token_policies"] == ["app"]
    assert aws.list_roles(mount_point=mount)["keys"] == ["app"]
    assert server.adapter.list(f"/v1/auth/{mount}/role")["data"]["keys"] == ["app"]
    with pytest.raises(hvac.exceptions.VaultError):
        compat.client(server.url, None).auth.aws.iam_login(
            "AKIAEXAMPLEEXAMPLE00",
            "secret-example-key",
            header_value="vault.example",
            role="app",
            mount_point=mount,
        )
    aws.delete_role("app", mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidPath):
        aws.read_role("app", mount_point=mount)
    aws.delete_config(mount_point=mount)
    server.sys.disable_auth_method(mount)


def test_aws_role_listing_and_missing_role(secrethub):
    mount = setup_aws(secrethub)
    assert secrethub.adapter.list(f"/v1/auth/{mount}/roles")["data"]["keys"] == ["app"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        secrethub.auth.aws.read_role("nope", mount_point=mount)
    secrethub.sys.disable_auth_method(mount)
