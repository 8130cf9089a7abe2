"""`cubbyhole/`, `identity/entity/id` and the POST form of `auth/token/lookup-self` through hvac
(hvac has no cubbyhole API: `client.read/write/list/delete`, hvac's generic calls, are what its
users reach it with), compared with a real OpenBao dev server."""

import hvac
import pytest

import compat
from compat import same_answer, same_answers, unique


@pytest.fixture
def own_token(server):
    """A fresh child token: a cubbyhole of its own."""
    created = server.auth.token.create(policies=["default"], ttl="10m")["auth"]
    return compat.client(server.url, created["client_token"])


def test_cubbyhole_write_read_list_delete(own_token):
    c = own_token
    c.write("cubbyhole/app/db", password="s3cret", port=5432)
    c.write("cubbyhole/top", v="1")
    assert c.read("cubbyhole/app/db")["data"] == {"password": "s3cret", "port": 5432}
    assert c.list("cubbyhole")["data"]["keys"] == ["app/", "top"]
    assert c.list("cubbyhole/app")["data"]["keys"] == ["db"]
    c.delete("cubbyhole/app/db")
    assert c.read("cubbyhole/app/db") is None
    assert c.list("cubbyhole")["data"]["keys"] == ["top"]


def test_cubbyhole_is_per_token(server, own_token):
    own_token.write("cubbyhole/mine", v="private")
    other = compat.client(
        server.url, server.auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]
    )
    assert other.read("cubbyhole/mine") is None
    assert own_token.read("cubbyhole/mine")["data"] == {"v": "private"}


def test_cubbyhole_matches_openbao(secrethub, bao):
    def setup(client):
        token = client.auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]
        mine = compat.client(client.url, token)
        mine.write("cubbyhole/a/b", k="v")
        return mine

    same_answers(
        secrethub,
        bao,
        {
            "read": lambda c, m: m.read("cubbyhole/a/b"),
            "list": lambda c, m: m.list("cubbyhole"),
            "list folder": lambda c, m: m.list("cubbyhole/a"),
            "write": lambda c, m: m.write("cubbyhole/a/c", k="w"),
            "delete": lambda c, m: m.delete("cubbyhole/a/b"),
            "read missing": lambda c, m: m.adapter.get("/v1/cubbyhole/nope"),
            "list empty": lambda c, m: m.list("cubbyhole/nope"),
        },
        setup=setup,
    )


def login_entity(server):
    """A userpass login on a mount of its own: (mount, entity ID of the login's token)."""
    mount = unique("up")
    server.sys.enable_auth_method("userpass", path=mount)
    server.auth.userpass.create_or_update_user("erin", "pw-erin-1", mount_point=mount)
    anonymous = compat.client(server.url, None)
    anonymous.auth.userpass.login("erin", "pw-erin-1", mount_point=mount)
    return mount, anonymous.auth.token.lookup_self()["data"]["entity_id"]


def test_identity_entity_list_and_read(server):
    mount, entity_id = login_entity(server)
    assert entity_id
    assert entity_id in server.secrets.identity.list_entities()["data"]["keys"]
    entity = server.secrets.identity.read_entity(entity_id)["data"]
    assert entity["id"] == entity_id
    assert entity["disabled"] is False
    (alias,) = entity["aliases"]
    assert alias["name"] == "erin"
    assert alias["mount_path"] == f"auth/{mount}/"
    assert alias["mount_type"] == "userpass"
    assert alias["canonical_id"] == entity_id
    server.sys.disable_auth_method(mount)


def test_identity_entity_matches_openbao(secrethub, bao):
    def setup(client):
        return login_entity(client)[1]

    # OpenBao's entity carries fields of features SecretHub does not have (groups,
    # namespaces, MFA secrets, merged entities); the fields SecretHub sends are compared.
    not_in_secrethub = {
        "bucket_key_hash",
        "direct_group_ids",
        "group_ids",
        "inherited_group_ids",
        "merged_entity_ids",
        "mfa_secrets",
        "namespace_id",
        "last_update_time",
    }
    ours, theirs = same_answer(
        secrethub,
        bao,
        lambda c, e: c.secrets.identity.read_entity(e),
        setup=setup,
        ignore=not_in_secrethub,
    )
    # LIST sends `key_info` too: each entity's name and aliases (OpenBao's aliases also carry
    # alias IDs, which SecretHub's aliases do not have).
    listed, theirs_listed = same_answer(
        secrethub,
        bao,
        lambda c, e: c.secrets.identity.list_entities(),
        setup=setup,
    )
    for body in (listed.body, theirs_listed.body):
        data = body["data"]
        assert set(data["key_info"]) == set(data["keys"])
    entity_id = ours.body["data"]["id"]
    info = listed.body["data"]["key_info"][entity_id]
    assert info["name"] == ours.body["data"]["name"]
    theirs_info = theirs_listed.body["data"]["key_info"][theirs.body["data"]["id"]]
    assert set(info) == set(theirs_info) == {"name", "aliases"}
    assert set(theirs_info["aliases"][0]) - set(info["aliases"][0]) == {"id"}
    ours_alias, theirs_alias = ours.body["data"]["aliases"][0], theirs.body["data"]["aliases"][0]
    assert set(ours_alias) >= {"canonical_id", "mount_accessor", "mount_path", "mount_type", "name"}
    assert set(theirs_alias) >= set(ours_alias) - {"mount_path"}, (ours_alias, theirs_alias)


def test_unknown_entity(server):
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.secrets.identity.read_entity("00000000-0000-0000-0000-000000000000")


def test_lookup_self_by_post(server, own_token):
    """`POST auth/token/lookup-self` (hvac's lookup_self sends GET; older tools POST). The
    default policy grants only `read` on it, so a default token is denied the POST."""
    looked = server.adapter.post("/v1/auth/token/lookup-self")["data"]
    assert looked["id"] == server.token
    assert looked["policies"] == ["root"]
    with pytest.raises(hvac.exceptions.Forbidden):
        own_token.adapter.post("/v1/auth/token/lookup-self")


def test_lookup_self_by_post_matches_openbao(secrethub, bao):
    same_answer(secrethub, bao, lambda c: c.adapter.post("/v1/auth/token/lookup-self"))

    def setup(client):
        created = client.auth.token.create(policies=["default"], ttl="10m")["auth"]
        return compat.client(client.url, created["client_token"])

    same_answer(
        secrethub, bao, lambda c, own: own.adapter.post("/v1/auth/token/lookup-self"), setup=setup
    )
