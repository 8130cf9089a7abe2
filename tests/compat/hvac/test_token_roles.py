"""Token roles through hvac: create_or_update_role, read_role, list_roles, delete_role and
create(role_name=...), on each server, then compared with OpenBao (status, keys, messages)."""

import hvac
import pytest

import compat
from compat import same_answer, same_answers, unique


def as_token(server, token):
    """A client of the same server presenting `token`."""
    return compat.client(server.url, token)


def test_role_lifecycle(server):
    role, other = unique("role"), unique("role")
    # A LIST without any role is a 404, so one more role keeps the listing non-empty.
    server.auth.token.create_or_update_role(other)
    server.auth.token.create_or_update_role(
        role,
        allowed_policies=["default", "App"],
        disallowed_policies=["root"],
        orphan=True,
        renewable=False,
        path_suffix="v1x",
        token_period="1h",
        token_explicit_max_ttl="2h",
    )
    data = server.auth.token.read_role(role)["data"]
    assert data["name"] == role
    assert data["allowed_policies"] == ["app", "default"]
    assert data["disallowed_policies"] == ["root"]
    assert data["orphan"] is True
    assert data["renewable"] is False
    assert data["path_suffix"] == "v1x"
    assert data["token_period"] == 3600
    assert data["token_explicit_max_ttl"] == 7200
    assert data["token_type"] == "default-service"
    assert role in server.auth.token.list_roles()["data"]["keys"]

    server.auth.token.delete_role(role)
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.auth.token.read_role(role)
    assert role not in server.auth.token.list_roles()["data"]["keys"]
    server.auth.token.delete_role(other)


def test_tokens_created_against_a_role(server):
    role = unique("role")
    server.auth.token.create_or_update_role(
        role, allowed_policies=["default", "app"], orphan=True, path_suffix="v1x", token_period="1h"
    )
    auth = server.auth.token.create(role_name=role)["auth"]
    # Without `policies` the token gets the role's allowed policies.
    assert auth["policies"] == ["app", "default"]
    assert auth["orphan"] is True
    assert auth["lease_duration"] == 3600

    looked = server.auth.token.lookup(auth["client_token"])["data"]
    assert looked["role"] == role
    assert looked["path"] == f"auth/token/create/{role}/v1x"

    narrowed = server.auth.token.create(role_name=role, policies=["app"])["auth"]
    assert narrowed["policies"] == ["app", "default"]

    with pytest.raises(hvac.exceptions.InvalidRequest) as e:
        server.auth.token.create(role_name=role, policies=["admin"])
    assert e.value.errors == [
        'token policies (["admin" "default"]) must be subset of the role\'s allowed policies '
        '(["app" "default"]) or glob policies ([])'
    ]
    with pytest.raises(hvac.exceptions.InvalidRequest) as e:
        server.auth.token.create(role_name=unique("none"))
    assert e.value.errors[0].startswith("unknown role ")


def test_role_lets_a_token_without_sudo_create_more(server):
    role = unique("role")
    policy = unique("creator")
    server.sys.create_or_update_policy(
        policy, f'path "auth/token/create/{role}" {{ capabilities = ["update"] }}'
    )
    server.auth.token.create_or_update_role(role, allowed_policies=["ops"], orphan=True)
    user = server.auth.token.create(policies=[policy], ttl="1h")["auth"]["client_token"]

    # The role grants a policy the caller does not hold, and an orphan.
    auth = as_token(server, user).auth.token.create(role_name=role)["auth"]
    assert auth["policies"] == ["default", "ops"]
    assert auth["orphan"] is True

    # Writing a role needs a policy on auth/token/roles/.
    with pytest.raises(hvac.exceptions.Forbidden):
        as_token(server, user).auth.token.create_or_update_role(unique("role"))
    server.sys.delete_policy(policy)


def test_role_tokens_renew_with_the_role(server):
    role = unique("role")
    server.auth.token.create_or_update_role(role, token_period="1h")
    token = server.auth.token.create(role_name=role, policies=["default"])["auth"]["client_token"]
    server.auth.token.create_or_update_role(role, token_period="2h")
    assert server.auth.token.renew(token)["auth"]["lease_duration"] == 7200


def test_token_role_answers_match_openbao(secrethub, bao):
    def setup(client):
        role = unique("role")
        client.auth.token.create_or_update_role(
            role, allowed_policies=["default"], orphan=True, token_period="1h"
        )
        return role

    same_answers(
        secrethub,
        bao,
        {
            "write": lambda c, r: c.auth.token.create_or_update_role(r, renewable=False),
            "read": lambda c, r: c.auth.token.read_role(r),
            "list": lambda c, r: c.auth.token.list_roles(),
            "create with role": lambda c, r: c.auth.token.create(role_name=r),
            "lookup of a role token": lambda c, r: c.auth.token.lookup(
                c.auth.token.create(role_name=r)["auth"]["client_token"]
            ),
            "create outside the allowed policies": lambda c, r: c.auth.token.create(
                role_name=r, policies=["admin"]
            ),
            "create with an unknown role": lambda c, r: c.auth.token.create(role_name=unique("none")),
            "read missing": lambda c, r: c.auth.token.read_role(unique("none")),
            "delete": lambda c, r: c.auth.token.delete_role(r),
        },
        setup=setup,
    )


def test_token_role_refusals_match_openbao(secrethub, bao):
    """The same bad writes get the same status and the same message from both servers."""

    def write(body):
        def call(client):
            return client.adapter.post(f"/v1/auth/token/roles/{unique('role')}", json=body)

        return call

    bodies = {
        "batch and not orphan": {"token_type": "batch"},
        "batch and renewable": {"token_type": "batch", "orphan": True},
        "unknown token type": {"token_type": "bogus"},
        "short path suffix": {"path_suffix": "v1"},
        "parent reference in the suffix": {"path_suffix": "a..b"},
    }
    for name, body in bodies.items():
        ours, theirs = same_answer(secrethub, bao, write(body))
        assert ours.body["errors"] == theirs.body["errors"], name
