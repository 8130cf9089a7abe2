"""The transit secrets engine through hvac's `secrets.transit`: keys (create, read, list,
config, rotate, trim, delete), encrypt/decrypt/rewrap single and batch, data keys, random,
hash, hmac, sign/verify, export, backup/restore and cache-config. Formats that matter to a
client (the `vault:v1:` prefix, batch result shapes, status codes of refusals, the key read
shape) are compared with a real OpenBao dev server in the same test; ciphertexts never cross
servers."""

import base64
import json
import os
import tempfile

import hvac
import pytest

import compat
from compat import last_status, same_answer, same_answers, unique


def b64(data):
    return base64.b64encode(data).decode()


def unb64(text):
    return base64.b64decode(text)


def enable_transit(client):
    path = unique("transit")
    client.sys.enable_secrets_engine("transit", path=path)
    return path


def create_key(client, mount, name, key_type):
    """hvac's create_key refuses types its list lacks (aes128-gcm96, hmac): its adapter sends
    the same request."""
    body = {"type": key_type}
    if key_type == "hmac":
        # OpenBao 2.7 answers 500 to an hmac key without key_size.
        body["key_size"] = 32
    client.adapter.post(f"/v1/{mount}/keys/{name}", json=body)


@pytest.fixture
def transit(server):
    """A fresh transit mount on `server`; disabled afterwards."""
    path = enable_transit(server)
    yield path
    server.sys.disable_secrets_engine(path)


def test_keys_lifecycle(server, transit):
    t = server.secrets.transit
    t.create_key("k", mount_point=transit)
    t.create_key("sig", key_type="ed25519", mount_point=transit)
    key = t.read_key("k", mount_point=transit)["data"]
    assert key["type"] == "aes256-gcm96"
    assert key["latest_version"] == 1
    assert key["supports_encryption"] and not key["supports_signing"]
    assert sorted(t.list_keys(mount_point=transit)["data"]["keys"]) == ["k", "sig"]

    t.rotate_key("k", mount_point=transit)
    t.rotate_key("k", mount_point=transit)
    assert t.read_key("k", mount_point=transit)["data"]["latest_version"] == 3
    t.update_key_configuration(
        "k", min_decryption_version=2, min_encryption_version=3, mount_point=transit
    )
    t.trim_key("k", min_version=2, mount_point=transit)
    key = t.read_key("k", mount_point=transit)["data"]
    assert sorted(key["keys"]) == ["2", "3"]
    assert (key["min_available_version"], key["min_decryption_version"]) == (2, 2)

    with pytest.raises(hvac.exceptions.InvalidRequest, match="deletion is not allowed"):
        t.delete_key("k", mount_point=transit)
    t.update_key_configuration("k", deletion_allowed=True, mount_point=transit)
    t.delete_key("k", mount_point=transit)
    with pytest.raises(hvac.exceptions.InvalidPath):
        t.read_key("k", mount_point=transit)


def test_encrypt_decrypt_rewrap_and_versions(server, transit):
    t = server.secrets.transit
    for key_type in ("aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "rsa-2048"):
        create_key(server, transit, key_type, key_type)
        ct = t.encrypt_data(key_type, plaintext=b64(b"hello"), mount_point=transit)["data"]
        assert ct["ciphertext"].startswith("vault:v1:") and ct["key_version"] == 1
        back = t.decrypt_data(key_type, ciphertext=ct["ciphertext"], mount_point=transit)
        assert unb64(back["data"]["plaintext"]) == b"hello"

    t.create_key("k", mount_point=transit)
    v1 = t.encrypt_data("k", plaintext=b64(b"one"), mount_point=transit)["data"]["ciphertext"]
    t.rotate_key("k", mount_point=transit)
    v2 = t.encrypt_data("k", plaintext=b64(b"two"), mount_point=transit)["data"]["ciphertext"]
    assert v2.startswith("vault:v2:")
    rewrapped = t.rewrap_data("k", ciphertext=v1, mount_point=transit)["data"]
    assert rewrapped["ciphertext"].startswith("vault:v2:") and rewrapped["key_version"] == 2
    t.update_key_configuration("k", min_decryption_version=2, mount_point=transit)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="too old"):
        t.decrypt_data("k", ciphertext=v1, mount_point=transit)
    assert unb64(
        t.decrypt_data("k", ciphertext=rewrapped["ciphertext"], mount_point=transit)["data"][
            "plaintext"
        ]
    ) == b"one"

    aad = b64(b"header")
    bound = t.encrypt_data("k", plaintext=b64(b"x"), associated_data=aad, mount_point=transit)
    bound = bound["data"]["ciphertext"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="message authentication failed"):
        t.decrypt_data("k", ciphertext=bound, mount_point=transit)
    # hvac's decrypt_data has no associated_data parameter: the adapter sends it.
    back = server.adapter.post(
        f"/v1/{transit}/decrypt/k", json={"ciphertext": bound, "associated_data": aad}
    )
    assert unb64(back["data"]["plaintext"]) == b"x"


def test_derived_and_convergent_keys(server, transit):
    t = server.secrets.transit
    t.create_key("d", derived=True, convergent_encryption=True, mount_point=transit)
    ctx = b64(b"tenant-7")

    def enc(plaintext, context):
        answer = t.encrypt_data("d", plaintext=b64(plaintext), context=context, mount_point=transit)
        return answer["data"]["ciphertext"]

    assert enc(b"same", ctx) == enc(b"same", ctx)
    assert enc(b"same", ctx) != enc(b"same", b64(b"tenant-8"))
    back = t.decrypt_data("d", ciphertext=enc(b"same", ctx), context=ctx, mount_point=transit)
    assert unb64(back["data"]["plaintext"]) == b"same"
    with pytest.raises(hvac.exceptions.InvalidRequest, match="missing 'context'"):
        t.encrypt_data("d", plaintext=b64(b"x"), mount_point=transit)


def test_encrypt_creates_a_missing_key(server, transit):
    t = server.secrets.transit
    ct = t.encrypt_data("made", plaintext=b64(b"x"), mount_point=transit)["data"]["ciphertext"]
    assert ct.startswith("vault:v1:")
    assert t.read_key("made", mount_point=transit)["data"]["type"] == "aes256-gcm96"


def test_batches(server, transit):
    t = server.secrets.transit
    t.create_key("k", mount_point=transit)
    items = [{"plaintext": b64(b"a"), "reference": "r1"}, {"plaintext": b64(b"b")}]
    results = t.encrypt_data("k", batch_input=items, mount_point=transit)["data"]["batch_results"]
    assert [r["reference"] for r in results] == ["r1", ""]
    decrypted = t.decrypt_data(
        "k", batch_input=[{"ciphertext": r["ciphertext"]} for r in results], mount_point=transit
    )["data"]["batch_results"]
    assert [unb64(r["plaintext"]) for r in decrypted] == [b"a", b"b"]
    rewrapped = t.rewrap_data(
        "k", ciphertext=None, batch_input=[{"ciphertext": r["ciphertext"]} for r in results], mount_point=transit
    )["data"]["batch_results"]
    assert all(r["ciphertext"].startswith("vault:v1:") for r in rewrapped)

    # One bad item: the others are still answered, the whole answer is a 400 with the results.
    with pytest.raises(hvac.exceptions.InvalidRequest) as refused:
        t.encrypt_data(
            "k", batch_input=[{"plaintext": b64(b"ok")}, {"plaintext": "!!"}], mount_point=transit
        )
    assert last_status() == 400
    body = refused.value.json
    good, bad = body["data"]["batch_results"]
    assert good["ciphertext"].startswith("vault:v1:")
    assert bad["error"].startswith("illegal base64 data")


def test_batch_shapes_match_openbao(secrethub, bao):
    def setup(client):
        path = enable_transit(client)
        client.secrets.transit.create_key("k", mount_point=path)
        good = client.secrets.transit.encrypt_data("k", plaintext=b64(b"x"), mount_point=path)
        return path, good["data"]["ciphertext"]

    def items(outcome):
        body = outcome.body
        results = (body.get("data") or {}).get("batch_results") or []
        return [sorted(r) for r in results]

    mixed_ct = lambda s: [{"ciphertext": s[1]}, {"ciphertext": "nope"}]
    calls = {
        "encrypt, one bad item": lambda c, s: c.secrets.transit.encrypt_data(
            "k", batch_input=[{"plaintext": b64(b"a")}, {"plaintext": "!!"}], mount_point=s[0]
        ),
        "encrypt, all good": lambda c, s: c.secrets.transit.encrypt_data(
            "k", batch_input=[{"plaintext": b64(b"a")}], mount_point=s[0]
        ),
        "decrypt, one bad item": lambda c, s: c.secrets.transit.decrypt_data(
            "k", batch_input=mixed_ct(s), mount_point=s[0]
        ),
        "decrypt, all good": lambda c, s: c.secrets.transit.decrypt_data(
            "k", batch_input=[{"ciphertext": s[1]}], mount_point=s[0]
        ),
        "rewrap, one bad item": lambda c, s: c.secrets.transit.rewrap_data(
            "k", ciphertext=None, batch_input=mixed_ct(s), mount_point=s[0]
        ),
    }
    outcomes = same_answers(secrethub, bao, calls, setup=setup)
    for name, (ours, theirs) in outcomes.items():
        assert items(ours) == items(theirs), name
        assert ours.status == theirs.status, name


def test_refusals_match_openbao(secrethub, bao):
    def setup(client):
        path = enable_transit(client)
        t = client.secrets.transit
        t.create_key("k", mount_point=path)
        t.create_key("sig", key_type="ecdsa-p256", mount_point=path)
        old = t.encrypt_data("k", plaintext=b64(b"old"), mount_point=path)["data"]["ciphertext"]
        t.rotate_key("k", mount_point=path)
        t.update_key_configuration("k", min_decryption_version=2, mount_point=path)
        fresh = t.encrypt_data("k", plaintext=b64(b"x"), mount_point=path)["data"]["ciphertext"]
        raw = bytearray(unb64(fresh.split(":")[2]))
        raw[-1] ^= 1
        return path, old, f"vault:v2:{b64(bytes(raw))}"

    t = lambda c: c.secrets.transit
    outcomes = same_answers(
        secrethub,
        bao,
        {
            "tampered ciphertext": lambda c, s: t(c).decrypt_data(
                "k", ciphertext=s[2], mount_point=s[0]
            ),
            "wrong base64": lambda c, s: t(c).decrypt_data(
                "k", ciphertext="vault:v2:!!!", mount_point=s[0]
            ),
            "no prefix": lambda c, s: t(c).decrypt_data("k", ciphertext="nope", mount_point=s[0]),
            "below min_decryption_version": lambda c, s: t(c).decrypt_data(
                "k", ciphertext=s[1], mount_point=s[0]
            ),
            "unknown key": lambda c, s: t(c).decrypt_data("none", ciphertext=s[2], mount_point=s[0]),
            "signing-only key": lambda c, s: t(c).encrypt_data(
                "sig", plaintext=b64(b"x"), mount_point=s[0]
            ),
            "bad plaintext base64": lambda c, s: t(c).encrypt_data(
                "k", plaintext="!!", mount_point=s[0]
            ),
            "delete protected key": lambda c, s: t(c).delete_key("k", mount_point=s[0]),
            "read missing key": lambda c, s: t(c).read_key("none", mount_point=s[0]),
            "export not exportable": lambda c, s: t(c).export_key(
                "k", key_type="encryption-key", mount_point=s[0]
            ),
            "sign with an unknown key": lambda c, s: t(c).sign_data(
                "none", hash_input=b64(b"x"), mount_point=s[0]
            ),
            "verify with an unknown key": lambda c, s: t(c).verify_signed_data(
                "none", b64(b"x"), signature="vault:v1:AAAA", mount_point=s[0]
            ),
            "malformed ecdsa signature": lambda c, s: t(c).verify_signed_data(
                "sig", b64(b"x"), signature="vault:v1:AAAA", mount_point=s[0]
            ),
            "rotate an unknown key": lambda c, s: t(c).rotate_key("none", mount_point=s[0]),
            "configure an unknown key": lambda c, s: t(c).update_key_configuration(
                "none", deletion_allowed=True, mount_point=s[0]
            ),
            "delete an unknown key": lambda c, s: t(c).delete_key("none", mount_point=s[0]),
            "too many random bytes": lambda c, s: t(c).generate_random_bytes(
                n_bytes=200000, mount_point=s[0]
            ),
            "unknown export type": lambda c, s: c.adapter.get(f"/v1/{s[0]}/export/bogus/k"),
        },
        setup=setup,
    )
    for name, (ours, theirs) in outcomes.items():
        if theirs.status == 400:
            assert ours.body["errors"] == theirs.body["errors"], name


@pytest.mark.parametrize(
    "key_type",
    [
        "aes128-gcm96",
        "aes256-gcm96",
        "chacha20-poly1305",
        "ed25519",
        "ecdsa-p256",
        "ecdsa-p384",
        "rsa-2048",
        "hmac",
    ],
)
def test_key_read_shape_matches_openbao(secrethub, bao, key_type):
    def setup(client):
        path = enable_transit(client)
        create_key(client, path, "k", key_type)
        return path

    ours, theirs = same_answer(
        secrethub, bao, lambda c, path: c.secrets.transit.read_key("k", mount_point=path), setup=setup
    )
    assert set(ours.body["data"]) == set(theirs.body["data"])
    if "keys" not in theirs.body["data"]:
        return  # an hmac key lists no versions
    ours_v1, theirs_v1 = ours.body["data"]["keys"]["1"], theirs.body["data"]["keys"]["1"]
    assert type(ours_v1) is type(theirs_v1)
    if isinstance(theirs_v1, dict):
        assert set(ours_v1) == set(theirs_v1)
        assert ours_v1["name"] == theirs_v1["name"]
        if theirs_v1["public_key"].startswith("-----"):
            # The same PEM header and SubjectPublicKeyInfo prefix (algorithm and curve).
            assert ours_v1["public_key"][:55] == theirs_v1["public_key"][:55]


def test_derived_key_read_shape_matches_openbao(secrethub, bao):
    def setup(client):
        path = enable_transit(client)
        client.secrets.transit.create_key(
            "d", derived=True, convergent_encryption=True, mount_point=path
        )
        return path

    ours, theirs = same_answer(
        secrethub, bao, lambda c, path: c.secrets.transit.read_key("d", mount_point=path), setup=setup
    )
    assert set(ours.body["data"]) == set(theirs.body["data"])


def test_operation_shapes_match_openbao(secrethub, bao):
    def setup(client):
        path = enable_transit(client)
        t = client.secrets.transit
        t.create_key("k", mount_point=path)
        t.create_key("e", key_type="ed25519", mount_point=path)
        return path

    t = lambda c: c.secrets.transit
    outcomes = same_answers(
        secrethub,
        bao,
        {
            "encrypt": lambda c, p: t(c).encrypt_data("k", plaintext=b64(b"x"), mount_point=p),
            "datakey plaintext": lambda c, p: t(c).generate_data_key(
                "k", key_type="plaintext", mount_point=p
            ),
            "datakey wrapped": lambda c, p: t(c).generate_data_key(
                "k", key_type="wrapped", bits=512, mount_point=p
            ),
            "random": lambda c, p: t(c).generate_random_bytes(n_bytes=16, mount_point=p),
            "hash": lambda c, p: t(c).hash_data(b64(b"hello"), algorithm="sha2-512", mount_point=p),
            "hmac": lambda c, p: t(c).generate_hmac("k", b64(b"m"), mount_point=p),
            "sign": lambda c, p: t(c).sign_data("e", hash_input=b64(b"m"), mount_point=p),
            "cache-config": lambda c, p: c.adapter.get(f"/v1/{p}/cache-config"),
        },
        setup=setup,
    )
    ours, theirs = outcomes["encrypt"]
    assert ours.body["data"]["ciphertext"][:9] == theirs.body["data"]["ciphertext"][:9] == "vault:v1:"
    ours, theirs = outcomes["hash"]
    assert ours.body["data"]["sum"] == theirs.body["data"]["sum"]
    ours, theirs = outcomes["sign"]
    assert ours.body["data"]["signature"][:9] == theirs.body["data"]["signature"][:9]


def test_datakey_random_hash_hmac(server, transit):
    t = server.secrets.transit
    t.create_key("k", mount_point=transit)
    dk = t.generate_data_key("k", key_type="plaintext", bits=256, mount_point=transit)["data"]
    back = t.decrypt_data("k", ciphertext=dk["ciphertext"], mount_point=transit)["data"]
    assert back["plaintext"] == dk["plaintext"] and len(unb64(dk["plaintext"])) == 32
    assert "plaintext" not in t.generate_data_key("k", key_type="wrapped", mount_point=transit)["data"]

    random = t.generate_random_bytes(n_bytes=12, output_format="hex", mount_point=transit)
    assert len(random["data"]["random_bytes"]) == 24
    for algorithm, size in (("sha2-224", 28), ("sha2-256", 32), ("sha2-384", 48), ("sha2-512", 64)):
        digest = t.hash_data(b64(b"abc"), algorithm=algorithm, output_format="base64", mount_point=transit)
        assert len(unb64(digest["data"]["sum"])) == size

    mac = t.generate_hmac("k", b64(b"msg"), algorithm="sha2-384", mount_point=transit)["data"]["hmac"]
    assert mac.startswith("vault:v1:")
    ok = t.verify_signed_data("k", b64(b"msg"), hmac=mac, hash_algorithm="sha2-384", mount_point=transit)
    assert ok["data"]["valid"] is True
    bad = t.verify_signed_data("k", b64(b"other"), hmac=mac, hash_algorithm="sha2-384", mount_point=transit)
    assert bad["data"]["valid"] is False


@pytest.mark.parametrize(
    "key_type,hash_algorithm",
    [
        ("ed25519", None),
        ("ecdsa-p256", "sha2-256"),
        ("ecdsa-p384", "sha2-384"),
        ("rsa-2048", None),
        ("rsa-3072", "sha2-512"),
    ],
)
def test_sign_and_verify(server, transit, key_type, hash_algorithm):
    t = server.secrets.transit
    t.create_key("s", key_type=key_type, mount_point=transit)
    for marshaling in ("asn1", "jws") if key_type.startswith("ecdsa") else ("asn1",):
        signed = t.sign_data(
            "s",
            hash_input=b64(b"document"),
            hash_algorithm=hash_algorithm,
            marshaling_algorithm=marshaling,
            mount_point=transit,
        )["data"]
        assert signed["signature"].startswith("vault:v1:") and signed["key_version"] == 1

        def verify(data):
            return t.verify_signed_data(
                "s",
                b64(data),
                signature=signed["signature"],
                hash_algorithm=hash_algorithm,
                marshaling_algorithm=marshaling,
                mount_point=transit,
            )["data"]["valid"]

        assert verify(b"document") is True
        assert verify(b"forged") is False

    batch = t.sign_data(
        "s",
        batch_input=[{"input": b64(b"a")}, {"input": b64(b"b")}],
        hash_algorithm=hash_algorithm,
        mount_point=transit,
    )["data"]["batch_results"]
    assert [r["key_version"] for r in batch] == [1, 1]


def test_export_backup_restore(server, transit):
    t = server.secrets.transit
    t.create_key("x", exportable=True, allow_plaintext_backup=True, mount_point=transit)
    ct = t.encrypt_data("x", plaintext=b64(b"kept"), mount_point=transit)["data"]["ciphertext"]
    exported = t.export_key("x", key_type="encryption-key", mount_point=transit)["data"]
    assert exported["name"] == "x" and len(unb64(exported["keys"]["1"])) == 32
    one = t.export_key("x", key_type="hmac-key", version="latest", mount_point=transit)["data"]
    assert list(one["keys"]) == ["1"]

    backup = t.backup_key("x", mount_point=transit)["data"]["backup"]
    t.restore_key(backup, name="y", mount_point=transit)
    back = t.decrypt_data("y", ciphertext=ct, mount_point=transit)["data"]["plaintext"]
    assert unb64(back) == b"kept"
    # OpenBao answers this with a 500, SecretHub with a 400: both refuse.
    with pytest.raises(hvac.exceptions.VaultError, match="already exists"):
        t.restore_key(backup, name="y", mount_point=transit)
    t.restore_key(backup, name="y", force=True, mount_point=transit)

    server.adapter.post(f"/v1/{transit}/cache-config", json={"size": 20})
    assert server.adapter.get(f"/v1/{transit}/cache-config")["data"]["size"] == 20


def test_auto_rotate_period_reads_back_and_has_vaults_floor(server, transit):
    t = server.secrets.transit
    t.create_key("r", auto_rotate_period="2h", mount_point=transit)
    assert t.read_key("r", mount_point=transit)["data"]["auto_rotate_period"] == 7200
    with pytest.raises(hvac.exceptions.InvalidRequest, match="at least an hour"):
        t.update_key_configuration("r", auto_rotate_period="10m", mount_point=transit)
    t.update_key_configuration("r", auto_rotate_period="0", mount_point=transit)
    assert t.read_key("r", mount_point=transit)["data"]["auto_rotate_period"] == 0


def test_plaintexts_never_reach_the_audit_file_in_clear(secrethub):
    """SecretHub only: OpenBao 2.7 refuses to enable audit devices through the API."""
    log = os.path.join(tempfile.mkdtemp(prefix="hvac-transit-audit-"), "audit.log")
    device = unique("file")
    secrethub.sys.enable_audit_device("file", path=device, options={"file_path": log})
    mount = enable_transit(secrethub)
    try:
        t = secrethub.secrets.transit
        secret = unique("plaintext-marker").encode()
        t.create_key("k", mount_point=mount)
        ct = t.encrypt_data("k", plaintext=b64(secret), mount_point=mount)["data"]["ciphertext"]
        t.decrypt_data("k", ciphertext=ct, mount_point=mount)
        with pytest.raises(hvac.exceptions.InvalidRequest):
            t.encrypt_data(
                "k", batch_input=[{"plaintext": b64(secret)}, {"plaintext": "!!"}], mount_point=mount
            )
        t.generate_data_key("k", key_type="plaintext", mount_point=mount)
    finally:
        secrethub.sys.disable_secrets_engine(mount)
        secrethub.sys.disable_audit_device(device)
    with open(log) as f:
        text = f.read()
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert any(e.get("request", {}).get("path") == f"{mount}/encrypt/k" for e in entries)
    assert secret.decode() not in text
    assert b64(secret) not in text
    assert ct not in text


def test_encrypting_to_a_missing_key_needs_create_matches_openbao(secrethub, bao):
    """Vault's upsert: `encrypt/:name` to a key that does not exist is a `create`, so a token
    with `update` only may encrypt to existing keys but not make new ones."""

    def setup(client):
        mount = enable_transit(client)
        client.secrets.transit.create_key("existing", mount_point=mount)
        policy = unique("transit_update")
        client.sys.create_or_update_policy(
            policy, f'path "{mount}/encrypt/*" {{ capabilities = ["update"] }}'
        )
        token = client.auth.token.create(policies=[policy], ttl="10m")["auth"]["client_token"]
        limited = compat.client(client.url, token)
        return mount, limited

    t = lambda c: c.secrets.transit
    outcomes = same_answers(
        secrethub,
        bao,
        {
            "update on an existing key": lambda c, s: t(s[1]).encrypt_data(
                "existing", plaintext=b64(b"x"), mount_point=s[0]
            ),
            "create denied": lambda c, s: t(s[1]).encrypt_data(
                "new", plaintext=b64(b"x"), mount_point=s[0]
            ),
        },
        setup=setup,
    )
    ours, _ = outcomes["create denied"]
    assert ours.status == 403 and ours.exception_class == "Forbidden"
