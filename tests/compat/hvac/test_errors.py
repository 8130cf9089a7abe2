"""Each error class a client handles: the status SecretHub answers, the exception hvac raises
for it, and the same answer from OpenBao.

hvac 2.4 raises InvalidRequest for 400, Forbidden for 403 and InvalidPath for 404
(hvac/exceptions.py, VaultError.from_status). Its status map has no 405: a 405 raises
UnexpectedError (hvac defines UnsupportedOperation but never raises it)."""

import hvac
import pytest

import compat
from compat import same_answers, unique
from conftest import enable_kv

LIMITED_POLICY = 'path "secret/data/allowed/*" {\n  capabilities = ["read"]\n}\n'


def limited(client):
    """A client whose token may only read secret/data/allowed/*."""
    name = unique("limited")
    client.sys.create_or_update_policy(name, LIMITED_POLICY)
    token = client.auth.token.create(policies=[name], ttl="1h")["auth"]["client_token"]
    return compat.client(client.url, token)


def test_400_raises_invalid_request(server):
    with pytest.raises(hvac.exceptions.InvalidRequest) as e:
        server.auth.token.create(ttl="not-a-duration")
    assert compat.last_status() == 400
    assert e.value.errors


def test_403_raises_forbidden(server):
    with pytest.raises(hvac.exceptions.Forbidden) as e:
        limited(server).secrets.kv.v2.read_secret(
            "denied/x", mount_point="secret", raise_on_deleted_version=True
        )
    assert compat.last_status() == 403
    # OpenBao wraps this one as "1 error occurred:\n\t* permission denied\n\n".
    assert any("permission denied" in error for error in e.value.errors)


def test_403_for_unknown_token(server):
    with pytest.raises(hvac.exceptions.Forbidden) as e:
        compat.client(server.url, "s.nosuchtoken").sys.list_policies()
    assert compat.last_status() == 403
    assert e.value.errors[0] == "permission denied"


def test_404_raises_invalid_path(server):
    with pytest.raises(hvac.exceptions.InvalidPath) as e:
        server.secrets.kv.v2.read_secret(
            unique("absent"), mount_point="secret", raise_on_deleted_version=True
        )
    assert e.value.json == {"errors": []}


def test_404_for_unmounted_path(server):
    # hvac's generic `read` turns a 404 into None; the adapter raises what a 404 raises.
    assert server.read(f"{unique('nomount')}/x") is None
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.adapter.get(f"/v1/{unique('nomount')}/x")


def test_405_raises_unexpected_error(server):
    """An operation a path does not support (DELETE of a KV v2 mount's config) is a 405."""
    mount = enable_kv(server, 2)
    with pytest.raises(hvac.exceptions.UnexpectedError):
        server.adapter.delete(f"/v1/{mount}/config")
    assert compat.last_status() == 405


def test_error_answers_match_openbao(secrethub, bao):
    def setup(client):
        return enable_kv(client, 2), limited(client)

    same_answers(
        secrethub,
        bao,
        {
            "400 bad ttl": lambda c, s: c.auth.token.create(ttl="not-a-duration"),
            "400 cas mismatch": lambda c, s: c.secrets.kv.v2.create_or_update_secret(
                "x", {"a": 1}, cas=3, mount_point=s[0]
            ),
            "400 bad policy": lambda c, s: c.sys.create_or_update_policy(unique("p"), "path {"),
            "403 denied path": lambda c, s: s[1].secrets.kv.v2.read_secret(
                "denied/x", mount_point="secret", raise_on_deleted_version=True
            ),
            "403 denied sys": lambda c, s: s[1].sys.list_mounted_secrets_engines(),
            "403 unknown token": lambda c, s: compat.client(c.url, "s.nosuch").sys.list_policies(),
            "404 missing secret": lambda c, s: c.secrets.kv.v2.read_secret(
                "absent", mount_point=s[0], raise_on_deleted_version=True
            ),
            "404 unmounted": lambda c, s: c.adapter.get(f"/v1/{unique('nomount')}/x"),
            "405 delete config": lambda c, s: c.adapter.delete(f"/v1/{s[0]}/config"),
            "405 list data": lambda c, s: c.adapter.list(f"/v1/{s[0]}/data/x"),
        },
        setup=setup,
    )
