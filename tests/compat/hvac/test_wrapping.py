"""Response wrapping through hvac: wrapped token creation, wrapped reads, `sys/wrapping/wrap`,
and unwrap (by token parameter and with the wrapping token as the client token)."""

import hvac
import pytest

import compat
from compat import same_answers


def test_wrapped_token_create_and_unwrap(server):
    wrapped = server.auth.token.create(policies=["default"], ttl="1h", wrap_ttl="60s")
    assert wrapped["auth"] is None
    info = wrapped["wrap_info"]
    assert info["ttl"] == 60
    assert info["creation_path"] == "auth/token/create"
    assert info["token"] and info["accessor"]

    unwrapped = server.sys.unwrap(info["token"])
    token = unwrapped["auth"]["client_token"]
    assert unwrapped["auth"]["policies"] == ["default"]
    assert compat.client(server.url, token).auth.token.lookup_self()["data"]["id"] == token


def test_wrapped_kv_read_and_unwrap_as_client_token(server, kv2):
    server.secrets.kv.v2.create_or_update_secret("w", {"k": "v"}, mount_point=kv2)
    wrapped = server.read(f"{kv2}/data/w", wrap_ttl="2m")
    assert wrapped["data"] is None
    info = wrapped["wrap_info"]
    assert info["ttl"] == 120
    assert info["creation_path"] == f"{kv2}/data/w"

    # With no token parameter, the wrapping token itself is the client token.
    unwrapped = compat.client(server.url, info["token"]).sys.unwrap()
    assert unwrapped["data"]["data"] == {"k": "v"}
    assert unwrapped["data"]["metadata"]["version"] == 1


def test_wrap_arbitrary_data(server):
    wrapped = server.sys.wrap(payload={"a": "b", "n": 1}, ttl=90)
    assert wrapped["wrap_info"]["ttl"] == 90
    assert wrapped["wrap_info"]["creation_path"] == "sys/wrapping/wrap"
    assert server.sys.unwrap(wrapped["wrap_info"]["token"])["data"] == {"a": "b", "n": 1}


def test_unwrap_twice_is_invalid_request(server):
    token = server.sys.wrap(payload={"x": "y"})["wrap_info"]["token"]
    server.sys.unwrap(token)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        server.sys.unwrap(token)


def test_wrapped_secret_id(server):
    path = compat.unique("approle")
    server.sys.enable_auth_method("approle", path=path)
    server.auth.approle.create_or_update_approle("r", token_policies=["default"], mount_point=path)
    wrapped = server.auth.approle.generate_secret_id("r", mount_point=path, wrap_ttl="1m")
    secret_id = server.sys.unwrap(wrapped["wrap_info"]["token"])["data"]["secret_id"]
    role_id = server.auth.approle.read_role_id("r", mount_point=path)["data"]["role_id"]
    login = compat.client(server.url, None).auth.approle.login(role_id, secret_id, mount_point=path)
    assert login["auth"]["client_token"]
    server.sys.disable_auth_method(path)


def test_wrapping_shapes_match_openbao(secrethub, bao):
    def setup(client):
        return client.sys.wrap(payload={"a": "b"})["wrap_info"]["token"]

    same_answers(
        secrethub,
        bao,
        {
            "wrap": lambda c, t: c.sys.wrap(payload={"a": "b"}),
            "wrapped token create": lambda c, t: c.auth.token.create(
                policies=["default"], wrap_ttl="60s"
            ),
            "unwrap": lambda c, t: c.sys.unwrap(t),
            "unwrap unknown token": lambda c, t: c.sys.unwrap("s.nosuchwrappingtoken"),
            "lookup": lambda c, t: c.adapter.post("/v1/sys/wrapping/lookup", json={"token": t}),
        },
        setup=setup,
    )
