"""AppRole and userpass through hvac: role and user management, login, the token a login
returns, and failed logins."""

import hvac
import pytest

import compat
from compat import same_answer, same_answers, unique


def enable(server, method_type):
    path = unique(method_type)
    server.sys.enable_auth_method(method_type, path=path)
    return path


@pytest.fixture
def approle(server):
    path = enable(server, "approle")
    yield path
    server.sys.disable_auth_method(path)


@pytest.fixture
def userpass(server):
    path = enable(server, "userpass")
    yield path
    server.sys.disable_auth_method(path)


def test_approle_role_management(server, approle):
    ar = server.auth.approle
    ar.create_or_update_approle(
        "billing",
        token_policies=["default", "billing"],
        token_ttl="20m",
        token_max_ttl="1h",
        secret_id_ttl="10m",
        mount_point=approle,
    )
    role = ar.read_role("billing", mount_point=approle)["data"]
    assert sorted(role["token_policies"]) == ["billing", "default"]
    assert role["token_ttl"] == 1200
    assert role["token_max_ttl"] == 3600
    assert role["secret_id_ttl"] == 600
    assert role["bind_secret_id"] is True
    assert ar.list_roles(mount_point=approle)["data"]["keys"] == ["billing"]

    ar.update_role_id("billing", "my-custom-role-id", mount_point=approle)
    assert ar.read_role_id("billing", mount_point=approle)["data"]["role_id"] == "my-custom-role-id"

    ar.delete_role("billing", mount_point=approle)
    with pytest.raises(hvac.exceptions.InvalidPath):
        ar.list_roles(mount_point=approle)
    # Vault and OpenBao keep token_policies in the order given.
    assert role["token_policies"] == ["default", "billing"]


def test_approle_login(server, approle):
    ar = server.auth.approle
    ar.create_or_update_approle(
        "web", token_policies=["default"], token_ttl="20m", mount_point=approle
    )
    role_id = ar.read_role_id("web", mount_point=approle)["data"]["role_id"]
    generated = ar.generate_secret_id("web", metadata={"host": "web-1"}, mount_point=approle)
    secret_id = generated["data"]["secret_id"]
    assert generated["data"]["secret_id_accessor"]

    client = compat.client(server.url, None)
    login = client.auth.approle.login(role_id, secret_id, mount_point=approle)["auth"]
    assert login["policies"] == ["default"]
    assert login["lease_duration"] == 1200
    assert login["renewable"] is True
    assert login["metadata"]["role_name"] == "web"
    # hvac keeps the login's token (use_token=True) and uses it from then on.
    assert client.token == login["client_token"]
    own = client.auth.token.lookup_self()["data"]
    assert own["path"] == f"auth/{approle}/login"
    assert own["meta"]["role_name"] == "web"


def test_approle_secret_id_management(server, approle):
    ar = server.auth.approle
    ar.create_or_update_approle("job", token_policies=["default"], mount_point=approle)
    role_id = ar.read_role_id("job", mount_point=approle)["data"]["role_id"]
    first = ar.generate_secret_id("job", metadata={"n": "1"}, mount_point=approle)["data"]
    custom = ar.create_custom_secret_id("job", "custom-secret-id-1", mount_point=approle)["data"]
    assert custom["secret_id"] == "custom-secret-id-1"

    accessors = ar.list_secret_id_accessors("job", mount_point=approle)["data"]["keys"]
    assert sorted(accessors) == sorted([first["secret_id_accessor"], custom["secret_id_accessor"]])
    info = ar.read_secret_id("job", first["secret_id"], mount_point=approle)["data"]
    assert info["metadata"] == {"n": "1"}
    assert info["secret_id_accessor"] == first["secret_id_accessor"]
    by_accessor = ar.read_secret_id_accessor(
        "job", first["secret_id_accessor"], mount_point=approle
    )["data"]
    assert by_accessor["metadata"] == {"n": "1"}

    ar.destroy_secret_id("job", first["secret_id"], mount_point=approle)
    ar.destroy_secret_id_accessor("job", custom["secret_id_accessor"], mount_point=approle)
    for secret_id in (first["secret_id"], "custom-secret-id-1"):
        with pytest.raises(hvac.exceptions.InvalidRequest):
            compat.client(server.url, None).auth.approle.login(
                role_id, secret_id, mount_point=approle
            )


def test_approle_login_with_wrong_secret_id_is_invalid_request(server, approle):
    ar = server.auth.approle
    ar.create_or_update_approle("r", token_policies=["default"], mount_point=approle)
    role_id = ar.read_role_id("r", mount_point=approle)["data"]["role_id"]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        compat.client(server.url, None).auth.approle.login(role_id, "wrong", mount_point=approle)


def test_approle_shapes_match_openbao(secrethub, bao):
    def setup(client):
        path = enable(client, "approle")
        ar = client.auth.approle
        ar.create_or_update_approle("r", token_policies=["default"], mount_point=path)
        role_id = ar.read_role_id("r", mount_point=path)["data"]["role_id"]
        secret = ar.generate_secret_id("r", mount_point=path)["data"]
        return path, role_id, secret

    anonymous = lambda c: compat.client(c.url, None)  # noqa: E731
    calls = {
        "read role": lambda c, s: c.auth.approle.read_role("r", mount_point=s[0]),
        "role id": lambda c, s: c.auth.approle.read_role_id("r", mount_point=s[0]),
        "secret id": lambda c, s: c.auth.approle.generate_secret_id("r", mount_point=s[0]),
        "read secret id": lambda c, s: c.auth.approle.read_secret_id(
            "r", s[2]["secret_id"], mount_point=s[0]
        ),
        "login": lambda c, s: anonymous(c).auth.approle.login(
            s[1], s[2]["secret_id"], mount_point=s[0]
        ),
        "bad login": lambda c, s: anonymous(c).auth.approle.login(
            s[1], "wrong", mount_point=s[0]
        ),
        "missing role": lambda c, s: c.auth.approle.read_role(unique("none"), mount_point=s[0]),
    }
    same_answers(secrethub, bao, calls, setup=setup)


def test_userpass_user_management(server, userpass):
    up = server.auth.userpass
    up.create_or_update_user(
        "alice", password="pw-1", policies=["default"], token_ttl="15m", mount_point=userpass
    )
    user = up.read_user("alice", mount_point=userpass)["data"]
    assert user["token_policies"] == ["default"]
    assert user["token_ttl"] == 900
    assert "password" not in user and "password_hash" not in user
    assert up.list_user(mount_point=userpass)["data"]["keys"] == ["alice"]

    up.update_password_on_user("alice", "pw-2", mount_point=userpass)
    anonymous = compat.client(server.url, None)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        anonymous.auth.userpass.login("alice", "pw-1", mount_point=userpass)
    assert anonymous.auth.userpass.login("alice", "pw-2", mount_point=userpass)["auth"]

    up.delete_user("alice", mount_point=userpass)
    with pytest.raises(hvac.exceptions.InvalidPath):
        up.read_user("alice", mount_point=userpass)


def test_userpass_login(server, userpass):
    server.auth.userpass.create_or_update_user(
        "bob", password="s3cret", policies=["default"], token_ttl="30m", mount_point=userpass
    )
    client = compat.client(server.url, None)
    login = client.auth.userpass.login("bob", "s3cret", mount_point=userpass)["auth"]
    assert login["policies"] == ["default"]
    assert login["lease_duration"] == 1800
    assert login["metadata"] == {"username": "bob"}
    assert client.token == login["client_token"]
    own = client.auth.token.lookup_self()["data"]
    assert own["display_name"] == f"{userpass}-bob"
    renewed = client.auth.token.renew_self()["auth"]
    assert renewed["lease_duration"] == 1800


def test_userpass_login_failures(server, userpass):
    server.auth.userpass.create_or_update_user("carol", password="right", mount_point=userpass)
    anonymous = compat.client(server.url, None)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        anonymous.auth.userpass.login("carol", "wrong", mount_point=userpass)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        anonymous.auth.userpass.login("nobody", "x", mount_point=userpass)


def test_userpass_shapes_match_openbao(secrethub, bao):
    def setup(client):
        path = enable(client, "userpass")
        client.auth.userpass.create_or_update_user(
            "dave", password="pw", policies=["default"], mount_point=path
        )
        return path

    anonymous = lambda c: compat.client(c.url, None)  # noqa: E731
    calls = {
        "read user": lambda c, p: c.auth.userpass.read_user("dave", mount_point=p),
        "list users": lambda c, p: c.auth.userpass.list_user(mount_point=p),
        "login": lambda c, p: anonymous(c).auth.userpass.login("dave", "pw", mount_point=p),
        "wrong password": lambda c, p: anonymous(c).auth.userpass.login(
            "dave", "nope", mount_point=p
        ),
        "unknown user": lambda c, p: anonymous(c).auth.userpass.login(
            "nobody", "nope", mount_point=p
        ),
        "missing user": lambda c, p: c.auth.userpass.read_user("nobody", mount_point=p),
    }
    same_answers(secrethub, bao, calls, setup=setup)
