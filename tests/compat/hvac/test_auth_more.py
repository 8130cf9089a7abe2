"""AppRole and userpass endpoints hvac has no call for, reached through hvac's adapter: the
per-field role endpoints of AppRole (`role/:name/policies`, `.../secret-id-ttl`, ...: read,
write, reset), `role/:name/local-secret-ids`, `tidy/secret-id`, and userpass's
`users/:name/policies`; compared with a real OpenBao dev server."""

import hvac
import pytest

import compat
from compat import same_answer, same_answers, unique

# field endpoint → (role field it sets, value written, value read back)
FIELDS = {
    "policies": ("token_policies", ["a", "b"], ["a", "b"]),
    "secret-id-num-uses": ("secret_id_num_uses", 7, 7),
    "secret-id-ttl": ("secret_id_ttl", "10m", 600),
    "token-ttl": ("token_ttl", "20m", 1200),
    "token-max-ttl": ("token_max_ttl", "1h", 3600),
    "token-num-uses": ("token_num_uses", 3, 3),
    # Secret ID blocks read back as written; a token's single address (/32, /128) bare.
    "secret-id-bound-cidrs": (
        "secret_id_bound_cidrs",
        ["127.0.0.1/32", "10.0.0.0/8"],
        ["127.0.0.1/32", "10.0.0.0/8"],
    ),
    "token-bound-cidrs": (
        "token_bound_cidrs",
        ["127.0.0.1/32", "::1/128", "127.0.0.0/8"],
        ["127.0.0.1", "::1", "127.0.0.0/8"],
    ),
    "period": ("token_period", "30m", 1800),
}


@pytest.fixture
def approle(server):
    path = unique("approle")
    server.sys.enable_auth_method("approle", path=path)
    server.auth.approle.create_or_update_approle(
        "web", token_policies=["default"], secret_id_bound_cidrs=["127.0.0.0/8"], mount_point=path
    )
    yield path
    server.sys.disable_auth_method(path)


@pytest.mark.parametrize("endpoint", sorted(FIELDS))
def test_approle_field_endpoints(server, approle, endpoint):
    field, written, read_back = FIELDS[endpoint]
    url = f"/v1/auth/{approle}/role/web/{endpoint}"
    server.adapter.post(url, json={field: written})
    assert server.adapter.get(url)["data"][field] == read_back
    assert server.auth.approle.read_role("web", mount_point=approle)["data"][field] == read_back
    server.adapter.delete(url)
    reset = server.auth.approle.read_role("web", mount_point=approle)["data"][field]
    assert reset != read_back


def test_approle_bound_cidr_list_is_the_older_name(server, approle):
    """`bound-cidr-list` writes `secret_id_bound_cidrs`. Read back through the old name it is
    null with a deprecation warning; DELETE through it keeps them."""
    url = f"/v1/auth/{approle}/role/web/bound-cidr-list"
    server.adapter.post(url, json={"bound_cidr_list": ["192.168.0.0/16"]})
    read = server.adapter.get(url)
    assert read["data"] == {"bound_cidr_list": None}
    assert read["warnings"] == [
        'The "bound_cidr_list" field is deprecated and will be removed. '
        'Please use "secret_id_bound_cidrs" instead.'
    ]
    role = server.auth.approle.read_role("web", mount_point=approle)["data"]
    assert role["secret_id_bound_cidrs"] == ["192.168.0.0/16"]
    assert server.adapter.delete(url).status_code == 204
    role = server.auth.approle.read_role("web", mount_point=approle)["data"]
    assert role["secret_id_bound_cidrs"] == ["192.168.0.0/16"]


def test_approle_bind_secret_id_endpoint(secrethub):
    """SecretHub only: HashiCorp Vault's `role/:name/bind-secret-id`, which OpenBao 2.7 no
    longer serves (404 "unsupported path"; `bind_secret_id` is set on the role there)."""
    path = unique("approle")
    secrethub.sys.enable_auth_method("approle", path=path)
    ar = secrethub.auth.approle
    ar.create_or_update_approle("web", secret_id_bound_cidrs=["127.0.0.0/8"], mount_point=path)
    url = f"/v1/auth/{path}/role/web/bind-secret-id"
    assert secrethub.adapter.get(url)["data"] == {"bind_secret_id": True}
    secrethub.adapter.post(url, json={"bind_secret_id": False})
    assert ar.read_role("web", mount_point=path)["data"]["bind_secret_id"] is False
    secrethub.adapter.delete(url)
    assert ar.read_role("web", mount_point=path)["data"]["bind_secret_id"] is True
    secrethub.sys.disable_auth_method(path)


def test_approle_local_secret_ids(server, approle):
    assert server.adapter.get(f"/v1/auth/{approle}/role/web/local-secret-ids")["data"] == {
        "local_secret_ids": False
    }


def test_approle_field_of_missing_role(server, approle):
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.adapter.get(f"/v1/auth/{approle}/role/nope/token-ttl")


def test_approle_tidy_removes_expired_secret_ids(server, approle):
    ar = server.auth.approle
    ar.generate_secret_id("web", mount_point=approle)
    assert len(ar.list_secret_id_accessors("web", mount_point=approle)["data"]["keys"]) == 1
    tidied = server.adapter.post(f"/v1/auth/{approle}/tidy/secret-id")
    # A tidy with nothing expired keeps the live secret ID.
    assert tidied.status_code == 202
    assert len(ar.list_secret_id_accessors("web", mount_point=approle)["data"]["keys"]) == 1


def setup_approle(client):
    path = unique("approle")
    client.sys.enable_auth_method("approle", path=path)
    client.auth.approle.create_or_update_approle("web", token_policies=["default"], mount_point=path)
    return path


def test_approle_field_endpoints_match_openbao(secrethub, bao):
    calls = {}
    for endpoint, (field, written, _) in FIELDS.items():
        calls[f"write {endpoint}"] = lambda c, m, e=endpoint, f=field, w=written: c.adapter.post(
            f"/v1/auth/{m}/role/web/{e}", json={f: w}
        )
        calls[f"read {endpoint}"] = lambda c, m, e=endpoint: c.adapter.get(f"/v1/auth/{m}/role/web/{e}")
        calls[f"reset {endpoint}"] = lambda c, m, e=endpoint: c.adapter.delete(
            f"/v1/auth/{m}/role/web/{e}"
        )
    calls["read bound-cidr-list"] = lambda c, m: c.adapter.get(f"/v1/auth/{m}/role/web/bound-cidr-list")
    calls["read local-secret-ids"] = lambda c, m: c.adapter.get(
        f"/v1/auth/{m}/role/web/local-secret-ids"
    )
    calls["read field of missing role"] = lambda c, m: c.adapter.get(f"/v1/auth/{m}/role/nope/period")
    same_answers(secrethub, bao, calls, setup=setup_approle)


def test_approle_tidy_matches_openbao(secrethub, bao):
    """202 with a warning that the tidy started (OpenBao runs it in the background, SecretHub
    before it answers); the warning's first sentence is the same."""
    ours, theirs = same_answer(
        secrethub,
        bao,
        lambda c, m: c.adapter.post(f"/v1/auth/{m}/tidy/secret-id"),
        setup=setup_approle,
    )
    assert ours.status == 202
    for outcome in (ours, theirs):
        assert outcome.body["data"] is None
        warnings = outcome.body["warnings"]
        assert [w.split(". ")[0] + "." for w in warnings] == ["Tidy operation successfully started."]


@pytest.fixture
def userpass(server):
    path = unique("up")
    server.sys.enable_auth_method("userpass", path=path)
    yield path
    server.sys.disable_auth_method(path)


def test_userpass_change_policies(server, userpass):
    server.auth.userpass.create_or_update_user("carol", "pw-carol-1", policies=["a"], mount_point=userpass)
    server.adapter.post(f"/v1/auth/{userpass}/users/carol/policies", json={"token_policies": ["b", "c"]})
    user = server.auth.userpass.read_user("carol", mount_point=userpass)["data"]
    assert user["token_policies"] == ["b", "c"]
    login = compat.client(server.url, None).auth.userpass.login(
        "carol", "pw-carol-1", mount_point=userpass
    )["auth"]
    assert login["policies"] == ["b", "c", "default"]


def test_userpass_policies_match_openbao(secrethub, bao):
    def setup(client):
        path = unique("up")
        client.sys.enable_auth_method("userpass", path=path)
        client.auth.userpass.create_or_update_user("carol", "pw-carol-1", mount_point=path)
        return path

    same_answers(
        secrethub,
        bao,
        {
            "set policies": lambda c, m: c.adapter.post(
                f"/v1/auth/{m}/users/carol/policies", json={"token_policies": ["b"]}
            ),
            "older field name": lambda c, m: c.adapter.post(
                f"/v1/auth/{m}/users/carol/policies", json={"policies": "x,y"}
            ),
            "read back": lambda c, m: c.auth.userpass.read_user("carol", mount_point=m),
        },
        setup=setup,
    )


def test_userpass_token_bound_cidrs_show_single_addresses_bare(server, userpass):
    """Every auth method's token_bound_cidrs read back as OpenBao shows them."""
    server.auth.userpass.create_or_update_user(
        "dave", "pw-dave-1", mount_point=userpass, token_bound_cidrs=["127.0.0.1/32", "10.0.0.0/8"]
    )
    user = server.auth.userpass.read_user("dave", mount_point=userpass)["data"]
    assert user["token_bound_cidrs"] == ["127.0.0.1", "10.0.0.0/8"]


def test_userpass_policies_of_missing_user(server, userpass):
    """OpenBao answers 500 "username does not exist", SecretHub 400 'user "nobody" does not
    exist' (a difference reported, not fixed here); both refuse."""
    with pytest.raises((hvac.exceptions.InvalidRequest, hvac.exceptions.InternalServerError)):
        server.adapter.post(
            f"/v1/auth/{userpass}/users/nobody/policies", json={"token_policies": ["b"]}
        )
