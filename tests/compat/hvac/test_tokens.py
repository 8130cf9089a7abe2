"""Token create, lookup, renew and revoke through hvac: by token, self and accessor."""

import hvac
import pytest

import compat
from compat import same_answer, same_answers, unique


def child(server, **kwargs):
    """Creates a token with the root token; returns the `auth` block."""
    kwargs.setdefault("policies", ["default"])
    kwargs.setdefault("ttl", "1h")
    return server.auth.token.create(**kwargs)["auth"]


def as_token(server, token):
    """A client of the same server presenting `token`."""
    return compat.client(server.url, token)


def test_create_and_lookup(server):
    name = unique("app")
    auth = child(server, display_name=name, meta={"team": "billing"})
    assert auth["client_token"] and auth["accessor"]
    assert auth["policies"] == ["default"]
    assert auth["token_policies"] == ["default"]
    assert auth["lease_duration"] == 3600
    assert auth["renewable"] is True
    assert auth["metadata"] == {"team": "billing"}

    looked = server.auth.token.lookup(auth["client_token"])["data"]
    assert looked["id"] == auth["client_token"]
    assert looked["accessor"] == auth["accessor"]
    assert looked["policies"] == ["default"]
    # Vault and OpenBao turn every character but letters, digits and dashes into a dash.
    assert looked["display_name"] == "token-" + name.replace("_", "-")
    assert looked["meta"] == {"team": "billing"}
    assert 3500 < looked["ttl"] <= 3600
    assert looked["creation_ttl"] == 3600
    assert looked["renewable"] is True
    assert looked["orphan"] is False
    assert looked["path"] == "auth/token/create"


def test_lookup_self_and_accessor(server):
    auth = child(server)
    own = as_token(server, auth["client_token"]).auth.token.lookup_self()["data"]
    assert own["id"] == auth["client_token"]
    by_accessor = server.auth.token.lookup_accessor(auth["accessor"])["data"]
    assert by_accessor["accessor"] == auth["accessor"]
    assert by_accessor["id"] == ""  # an accessor never reveals its token
    assert by_accessor["policies"] == ["default"]


def test_create_orphan(server):
    auth = server.auth.token.create_orphan(policies=["default"], ttl="1h")["auth"]
    assert auth["orphan"] is True
    assert server.auth.token.lookup(auth["client_token"])["data"]["orphan"] is True


def test_list_accessors(server):
    auth = child(server)
    assert auth["accessor"] in server.auth.token.list_accessors()["data"]["keys"]


def test_renew_by_token_self_and_accessor(server):
    auth = child(server, ttl="10m")
    renewed = server.auth.token.renew(auth["client_token"], increment="20m")["auth"]
    assert renewed["client_token"] == auth["client_token"]
    assert renewed["lease_duration"] == 1200

    own = as_token(server, auth["client_token"])
    assert own.auth.token.renew_self(increment="30m")["auth"]["lease_duration"] == 1800

    by_accessor = server.auth.token.renew_accessor(auth["accessor"], increment="40m")["auth"]
    assert by_accessor["lease_duration"] == 2400
    assert by_accessor["client_token"] == ""  # renewing by accessor never reveals the token
    assert 2300 < server.auth.token.lookup(auth["client_token"])["data"]["ttl"] <= 2400


def test_revoke_by_token(server):
    token = child(server)["client_token"]
    server.auth.token.revoke(token)
    with pytest.raises(hvac.exceptions.Forbidden):
        as_token(server, token).auth.token.lookup_self()


def test_revoke_self(server):
    token = child(server)["client_token"]
    own = as_token(server, token)
    own.auth.token.revoke_self()
    with pytest.raises(hvac.exceptions.Forbidden):
        own.auth.token.lookup_self()


def test_revoke_accessor_revokes_children(server):
    parent = child(server, policies=["root"])
    grandchild = child(as_token(server, parent["client_token"]))
    server.auth.token.revoke_accessor(parent["accessor"])
    with pytest.raises(hvac.exceptions.Forbidden):
        as_token(server, parent["client_token"]).auth.token.lookup_self()
    with pytest.raises(hvac.exceptions.Forbidden):
        as_token(server, grandchild["client_token"]).auth.token.lookup_self()


def test_lookup_of_revoked_token_is_forbidden(server):
    """Vault and OpenBao answer a lookup of a token that no longer exists with 403."""
    token = child(server)["client_token"]
    server.auth.token.revoke(token)
    with pytest.raises(hvac.exceptions.Forbidden):
        server.auth.token.lookup(token)


def test_lookup_of_revoked_token_matches_openbao(secrethub, bao):
    def setup(client):
        token = child(client)["client_token"]
        client.auth.token.revoke(token)
        return token

    ours, _ = same_answer(secrethub, bao, lambda c, t: c.auth.token.lookup(t), setup=setup)
    assert ours.status == 403


def test_token_shapes_match_openbao(secrethub, bao):
    setup = lambda c: child(c, meta={"k": "v"})  # noqa: E731
    same_answer(secrethub, bao, lambda c, a: c.auth.token.create(policies=["default"]), setup=setup)
    same_answer(secrethub, bao, lambda c, a: c.auth.token.lookup(a["client_token"]), setup=setup)
    same_answer(
        secrethub, bao, lambda c, a: c.auth.token.lookup_accessor(a["accessor"]), setup=setup
    )
    same_answer(secrethub, bao, lambda c, a: c.auth.token.renew(a["client_token"]), setup=setup)
    same_answer(
        secrethub, bao, lambda c, a: c.auth.token.renew_accessor(a["accessor"]), setup=setup
    )
    same_answer(secrethub, bao, lambda c, a: c.auth.token.revoke(a["client_token"]), setup=setup)
    same_answer(
        secrethub, bao, lambda c, a: c.auth.token.revoke_accessor(a["accessor"]), setup=setup
    )


def test_token_errors_match_openbao(secrethub, bao):
    def revoked(client):
        auth = child(client)
        client.auth.token.revoke(auth["client_token"])
        return auth

    same_answers(
        secrethub,
        bao,
        {
            "lookup unknown accessor": lambda c, a: c.auth.token.lookup_accessor("no-such-accessor"),
            "renew unknown accessor": lambda c, a: c.auth.token.renew_accessor("no-such-accessor"),
            "renew unknown token": lambda c, a: c.auth.token.renew("s.nosuchtoken"),
            "bad ttl": lambda c, a: c.auth.token.create(ttl="not-a-duration"),
            "unknown client token": lambda c, a: compat.client(
                c.url, "s.nosuchtoken"
            ).auth.token.lookup_self(),
            # Revocation is idempotent: revoking what is already gone succeeds.
            "revoke revoked token": lambda c, a: c.auth.token.revoke(a["client_token"]),
            "revoke revoked accessor": lambda c, a: c.auth.token.revoke_accessor(a["accessor"]),
            "revoke unknown accessor": lambda c, a: c.auth.token.revoke_accessor("no-such-accessor"),
        },
        setup=revoked,
    )
