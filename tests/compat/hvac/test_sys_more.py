"""The rest of `sys/` through hvac: ACL policies (`sys/policies/acl`), single mount and auth
method reads, capabilities, key rotation and status, the leader, `sys/internal/ui/mounts`,
rewrap, the lease endpoints not driven by test_database.py (count, tidy, revoke-force, Vault's
older `sys/renew` / `sys/revoke` forms, SecretHub's `sys/leases` listing and stats), and
quotas. Each is compared with a real OpenBao dev server where OpenBao serves it."""

import hvac
import pytest

import compat
from compat import same_answer, same_answers, unique

RULES = 'path "secret/data/app/*" {\n  capabilities = ["read", "list"]\n}\n'

# OpenBao's policy versioning and check-and-set, which HashiCorp Vault does not have.
OPENBAO_POLICY_KEYS = {
    "allow_slashes_in_identity_templates",
    "allow_wildcards_in_identity_templates",
    "cas_required",
    "modified",
    "version",
}


def test_acl_policies_create_read_list_delete(server):
    name = unique("acl")
    server.sys.create_or_update_acl_policy(name, RULES)
    read = server.sys.read_acl_policy(name)["data"]
    assert read["name"] == name
    assert read["policy"] == RULES
    keys = server.sys.list_acl_policies()["data"]["keys"]
    assert name in keys and "default" in keys and "root" in keys

    server.sys.delete_acl_policy(name)
    assert name not in server.sys.list_acl_policies()["data"]["keys"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.sys.read_acl_policy(name)


def test_acl_policy_shapes_match_openbao(secrethub, bao):
    def setup(client):
        name = unique("acl")
        client.sys.create_or_update_acl_policy(name, RULES)
        return name

    calls = {
        "read": lambda c, name: c.sys.read_acl_policy(name),
        "list": lambda c, name: c.sys.list_acl_policies(),
        "write": lambda c, name: c.sys.create_or_update_acl_policy(name, RULES),
        "delete": lambda c, name: c.sys.delete_acl_policy(name),
        "read missing": lambda c, name: c.sys.read_acl_policy(name + "_missing"),
        "write unparsable": lambda c, name: c.sys.create_or_update_acl_policy(name, "path {"),
    }
    for label, call in calls.items():
        same_answer(secrethub, bao, call, setup=setup, ignore=OPENBAO_POLICY_KEYS)


def test_read_one_mount_and_one_auth_method(server):
    path = unique("kv")
    server.adapter.post(f"/v1/sys/mounts/{path}", json={"type": "kv", "description": "one"})
    mount = server.adapter.get(f"/v1/sys/mounts/{path}")
    assert mount["data"]["type"] == "kv"
    assert mount["data"]["description"] == "one"
    server.sys.disable_secrets_engine(path)
    with pytest.raises(hvac.exceptions.VaultError):
        server.adapter.get(f"/v1/sys/mounts/{path}")

    method = unique("up")
    server.sys.enable_auth_method("userpass", path=method, description="people")
    read = server.adapter.get(f"/v1/sys/auth/{method}")
    assert read["data"]["type"] == "userpass"
    assert read["data"]["description"] == "people"
    assert read["data"]["accessor"].startswith("auth_userpass_")
    server.sys.disable_auth_method(method)


def test_one_mount_reads_match_openbao(secrethub, bao):
    same_answers(
        secrethub,
        bao,
        {
            "secret mount": lambda c: c.adapter.get("/v1/sys/mounts/secret"),
            "token auth": lambda c: c.adapter.get("/v1/sys/auth/token"),
        },
    )


def test_missing_mount_read_matches_openbao(secrethub, bao):
    """400 "No secret engine mount at X/" ("No auth engine at X/"), the same words from both."""
    nope = unique("nope")
    outcomes = same_answers(
        secrethub,
        bao,
        {
            "secret mount": lambda c: c.adapter.get(f"/v1/sys/mounts/{nope}"),
            "auth method": lambda c: c.adapter.get(f"/v1/sys/auth/{nope}"),
        },
    )
    for ours, theirs in outcomes.values():
        assert ours.status == 400
        assert ours.body["errors"] == theirs.body["errors"]
    assert outcomes["auth method"][0].body["errors"] == [f"No auth engine at {nope}/"]


@pytest.fixture
def limited(server):
    """A policy and a token holding it: (policy name, token, accessor)."""
    name = unique("caps")
    server.sys.create_or_update_policy(
        name, 'path "secret/data/app/*" {\n  capabilities = ["read", "list"]\n}\n'
    )
    created = server.auth.token.create(policies=[name], ttl="10m")["auth"]
    yield name, created["client_token"], created["accessor"]
    server.sys.delete_policy(name)


def test_capabilities_self_token_and_accessor(server, limited):
    _, token, accessor = limited
    paths = ["secret/data/app/db", "secret/data/other"]
    by_self = compat.client(server.url, token).sys.get_capabilities(paths)
    assert by_self["data"]["secret/data/app/db"] == ["list", "read"]
    assert by_self["data"]["secret/data/other"] == ["deny"]
    by_token = server.sys.get_capabilities(paths, token=token)
    assert by_token["data"]["secret/data/app/db"] == ["list", "read"]
    by_accessor = server.sys.get_capabilities(paths, accessor=accessor)
    assert by_accessor["data"]["secret/data/other"] == ["deny"]
    assert server.sys.get_capabilities(["sys/mounts"])["data"]["sys/mounts"] == ["root"]


def test_capabilities_match_openbao(secrethub, bao):
    def setup(client):
        name = unique("caps")
        client.sys.create_or_update_policy(name, RULES)
        return client.auth.token.create(policies=[name], ttl="10m")["auth"]

    paths = ["secret/data/app/db", "secret/data/other"]
    same_answers(
        secrethub,
        bao,
        {
            "self": lambda c, t: compat.client(c.url, t["client_token"]).sys.get_capabilities(paths),
            "token": lambda c, t: c.sys.get_capabilities(paths, token=t["client_token"]),
            "accessor": lambda c, t: c.sys.get_capabilities(paths, accessor=t["accessor"]),
            "unknown accessor": lambda c, t: c.sys.get_capabilities(paths, accessor="nope"),
        },
        setup=setup,
    )


def test_rotate_and_key_status(server):
    before = server.sys.get_encryption_key_status()["data"]
    server.sys.rotate_encryption_key()
    after = server.sys.get_encryption_key_status()["data"]
    assert after["term"] > before["term"]
    assert after["install_time"]
    # Everything written before the rotation still reads back.
    server.secrets.kv.v2.create_or_update_secret(unique("rot"), {"a": "b"}, mount_point="secret")


def test_key_status_and_leader_match_openbao(secrethub, bao):
    # Both repeat term, install_time and encryptions at the top level next to `data` (hvac's
    # docs read `key_status['term']`).
    ours, _ = same_answer(secrethub, bao, lambda c: c.sys.get_encryption_key_status())
    assert ours.body["term"] == ours.body["data"]["term"]
    # OpenBao's dev server (no HA storage) answers ha_enabled alone; SecretHub adds the other
    # fields of Vault's answer with their empty values.
    ours, _ = same_answer(secrethub, bao, lambda c: c.sys.read_leader_status())
    assert ours.body["ha_enabled"] is False


def test_rotate_and_seal_need_sudo_as_in_openbao(secrethub, bao):
    """A token without sudo may not rotate or seal: both servers answer permission denied
    (the shared dev servers are not sealed; test_seal_lifecycle.py seals its own)."""

    def setup(client):
        return client.auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]

    same_answers(
        secrethub,
        bao,
        {
            "rotate": lambda c, t: compat.client(c.url, t).sys.rotate_encryption_key(),
            "seal": lambda c, t: compat.client(c.url, t).sys.seal(),
        },
        setup=setup,
    )


def test_ui_mounts_lookup(server, kv2):
    """What the Vault and bao CLIs ask before every `kv` command."""
    one = server.adapter.get(f"/v1/sys/internal/ui/mounts/{kv2}/some/secret")["data"]
    assert one["path"] == f"{kv2}/"
    assert one["type"] == "kv"
    assert one["options"]["version"] == "2"
    listing = server.adapter.get("/v1/sys/internal/ui/mounts")["data"]
    assert f"{kv2}/" in listing["secret"]
    # Auth mounts are named as in sys/auth.
    assert listing["auth"]["token/"]["type"] == "token"


def test_ui_mounts_match_openbao(secrethub, bao):
    same_answers(
        secrethub,
        bao,
        {
            "one mount": lambda c: c.adapter.get("/v1/sys/internal/ui/mounts/secret/app/db"),
        },
    )
    # A path under no mount: 403 with the words of a mount the token may not see, from both.
    nope = unique("nope")
    ours, theirs = same_answer(
        secrethub, bao, lambda c: c.adapter.get(f"/v1/sys/internal/ui/mounts/{nope}/x")
    )
    assert ours.exception_class == "Forbidden"
    assert ours.body["errors"] == theirs.body["errors"]
    ours, theirs = same_answer(
        secrethub, bao, lambda c: c.adapter.get("/v1/sys/internal/ui/mounts")
    )
    # Auth methods are named as in sys/auth ("token/") by both.
    for outcome, client in ((ours, secrethub), (theirs, bao)):
        assert set(outcome.body["data"]["auth"]) == set(client.sys.list_auth_methods()["data"])


def test_rewrap(server):
    wrapped = server.sys.wrap(payload={"k": "v"}, ttl=60)["wrap_info"]
    rewrapped = server.adapter.post("/v1/sys/wrapping/rewrap", json={"token": wrapped["token"]})
    info = rewrapped["wrap_info"]
    assert info["token"] != wrapped["token"]
    assert info["ttl"] == 60
    # The old wrapping token is spent; the new one unwraps to the same data.
    with pytest.raises(hvac.exceptions.InvalidRequest):
        server.sys.unwrap(wrapped["token"])
    assert server.sys.unwrap(info["token"])["data"] == {"k": "v"}


def test_rewrap_matches_openbao(secrethub, bao):
    def setup(client):
        return client.sys.wrap(payload={"k": "v"}, ttl=60)["wrap_info"]["token"]

    same_answers(
        secrethub,
        bao,
        {
            "rewrap": lambda c, t: c.adapter.post("/v1/sys/wrapping/rewrap", json={"token": t}),
            "rewrap unknown": lambda c, t: c.adapter.post(
                "/v1/sys/wrapping/rewrap", json={"token": "hvs.nope"}
            ),
        },
        setup=setup,
    )


def make_login_lease(server):
    """A userpass mount of its own with one login: (mount, lease prefix, lease ID, token).
    Login tokens are leases under auth/<mount>/login/<user>/ on both servers."""
    mount = unique("up")
    server.sys.enable_auth_method("userpass", path=mount)
    server.auth.userpass.create_or_update_user("alice", "pw-alice-1", mount_point=mount)
    anonymous = compat.client(server.url, None)
    token = anonymous.auth.userpass.login("alice", "pw-alice-1", mount_point=mount)["auth"][
        "client_token"
    ]
    prefix = f"auth/{mount}/login/alice/"
    keys = server.sys.list_leases(prefix)["data"]["keys"]
    assert len(keys) == 1, keys
    yield mount, prefix, prefix + keys[0], token
    server.sys.disable_auth_method(mount)


@pytest.fixture
def login_lease(server):
    yield from make_login_lease(server)


def token_works(server, token):
    try:
        compat.client(server.url, token).auth.token.lookup_self()
        return True
    except hvac.exceptions.Forbidden:
        return False


@pytest.fixture
def secrethub_login_lease(secrethub):
    """`login_lease` on SecretHub alone."""
    yield from make_login_lease(secrethub)


def test_older_renew_and_revoke_forms(secrethub, secrethub_login_lease):
    """SecretHub only: HashiCorp Vault's older `sys/renew/:lease_id`, `sys/revoke/:lease_id`
    and `sys/revoke-force/:prefix` (hvac itself sends sys/leases/*). OpenBao 2.7 removed them
    (404 "unsupported path")."""
    server = secrethub
    _, _, lease_id, token = secrethub_login_lease
    renewed = server.adapter.post(f"/v1/sys/renew/{lease_id}", json={"increment": 300})
    assert renewed["lease_id"] == lease_id
    assert renewed["renewable"] is True
    assert 0 < renewed["lease_duration"] <= 300
    renewed = server.adapter.post("/v1/sys/renew", json={"lease_id": lease_id})
    assert renewed["lease_id"] == lease_id
    assert token_works(server, token)
    server.adapter.post(f"/v1/sys/revoke/{lease_id}")
    assert not token_works(server, token)


def test_revoke_force(server, login_lease):
    _, prefix, _, token = login_lease
    server.sys.revoke_force(prefix)
    assert not token_works(server, token)


def test_older_revoke_force_form(secrethub, secrethub_login_lease):
    _, prefix, _, token = secrethub_login_lease
    secrethub.adapter.post(f"/v1/sys/revoke-force/{prefix}")
    assert not token_works(secrethub, token)


def test_lease_revocation_matches_openbao(secrethub, bao):
    def setup(client):
        mount = unique("up")
        client.sys.enable_auth_method("userpass", path=mount)
        client.auth.userpass.create_or_update_user("alice", "pw-alice-1", mount_point=mount)
        compat.client(client.url, None).auth.userpass.login("alice", "pw-alice-1", mount_point=mount)
        prefix = f"auth/{mount}/login/alice/"
        return prefix, prefix + client.sys.list_leases(prefix)["data"]["keys"][0]

    same_answers(
        secrethub,
        bao,
        {
            "revoke-force": lambda c, s: c.sys.revoke_force(s[0]),
            "revoke-force again": lambda c, s: c.sys.revoke_force(s[0]),
        },
        setup=setup,
    )


def test_lease_count(server):
    counted = server.adapter.get("/v1/sys/leases/count", params={"type": "irrevocable"})
    assert counted["data"]["lease_count"] >= 0
    assert counted["data"]["counts"] == {}


def test_lease_count_matches_openbao(secrethub, bao):
    same_answer(
        secrethub,
        bao,
        lambda c: c.adapter.get("/v1/sys/leases/count", params={"type": "irrevocable"}),
    )


TIDY_STARTED = "Tidy operation successfully started."


def test_lease_tidy_matches_openbao(secrethub, bao):
    """202 with a warning that the tidy started (OpenBao runs it in the background, SecretHub
    before it answers); the warning's first sentence is the same."""
    ours, theirs = same_answer(secrethub, bao, lambda c: c.adapter.post("/v1/sys/leases/tidy"))
    assert ours.status == 202
    for outcome in (ours, theirs):
        assert outcome.body["data"] is None
        assert [w.split(". ")[0] + "." for w in outcome.body["warnings"]] == [TIDY_STARTED]


def test_secrethub_lease_listing_and_stats(secrethub, login_lease):
    """SecretHub only: `GET sys/leases` (one page of lease lookups) and `sys/leases/stats`.
    OpenBao serves neither (404 and 405 "unsupported path")."""
    _, _, lease_id, _ = login_lease
    stats = secrethub.adapter.get("/v1/sys/leases/stats")["data"]
    assert stats["created_total"] >= 1
    assert stats["irrevocable"] >= 0
    page = secrethub.adapter.get("/v1/sys/leases", params={"limit": 1000})["data"]
    assert page["lease_count"] == len(page["leases"])
    irrevocable = secrethub.adapter.get("/v1/sys/leases", params={"type": "irrevocable"})["data"]
    assert irrevocable["lease_count"] == len(irrevocable["leases"])
    listed = secrethub.adapter.list("/v1/sys/leases")["data"]
    assert "leases" in listed


def test_rate_limit_quotas(server):
    name = unique("rl")
    path = unique("kvq")
    server.adapter.post(f"/v1/sys/mounts/{path}", json={"type": "kv"})
    server.sys.create_or_update_quota(name, rate=50, path=f"{path}/", interval="10s", block_interval="1m")
    read = server.sys.read_quota(name)["data"]
    assert read["name"] == name
    assert read["path"] == f"{path}/"
    assert read["rate"] == 50
    assert read["interval"] == 10
    assert read["block_interval"] == 60
    assert read["type"] == "rate-limit"
    assert name in server.sys.list_quotas()["data"]["keys"]
    server.sys.delete_quota(name)
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.sys.read_quota(name)
    server.sys.disable_secrets_engine(path)


def test_rate_limit_quotas_match_openbao(secrethub, bao):
    def setup(client):
        # OpenBao refuses two quotas on one path: each gets a mount of its own.
        name, path = unique("rl"), unique("kvq")
        client.adapter.post(f"/v1/sys/mounts/{path}", json={"type": "kv"})
        client.sys.create_or_update_quota(name, rate=50, path=f"{path}/")
        return name, path

    outcomes = same_answers(
        secrethub,
        bao,
        {
            "read": lambda c, n: c.sys.read_quota(n[0]),
            "list": lambda c, n: c.sys.list_quotas(),
            "write": lambda c, n: c.sys.create_or_update_quota(n[0], rate=20, path=f"{n[1]}/"),
            "write without rate": lambda c, n: c.adapter.post(
                f"/v1/sys/quotas/rate-limit/{n[0]}_x", json={"path": f"{n[1]}/data/"}
            ),
            "delete": lambda c, n: c.sys.delete_quota(n[0]),
            "read missing": lambda c, n: c.sys.read_quota(n[0] + "_missing"),
        },
        setup=setup,
    )
    # `inheritable` (whether a namespace's quota applies to its child namespaces; SecretHub
    # has none) is false for a mount's quota unless written, as in OpenBao.
    ours, theirs = outcomes["read"]
    assert ours.body["data"]["inheritable"] is theirs.body["data"]["inheritable"] is False

    def inheritable(c, n):
        c.adapter.post(
            f"/v1/sys/quotas/rate-limit/{n[0]}",
            json={"rate": 50, "path": f"{n[1]}/", "inheritable": True},
        )
        return c.sys.read_quota(n[0])

    ours, theirs = same_answer(secrethub, bao, inheritable, setup=setup)
    assert ours.body["data"]["inheritable"] is theirs.body["data"]["inheritable"] is True


def test_secrethub_lease_count_quotas(secrethub):
    """SecretHub only (OpenBao has no lease-count quotas; in HashiCorp Vault they are an
    Enterprise feature): `sys/quotas/lease-count/:name`. The 429 when a quota is full is
    driven by test_database.py's neighbours in crates/server/tests/it."""
    name = unique("lc")
    path = "cubbyhole/"
    secrethub.adapter.post(f"/v1/sys/quotas/lease-count/{name}", json={"path": path, "max_leases": 7})
    read = secrethub.adapter.get(f"/v1/sys/quotas/lease-count/{name}")["data"]
    assert read == {"name": name, "path": path, "max_leases": 7, "type": "lease-count"}
    assert name in secrethub.adapter.list("/v1/sys/quotas/lease-count")["data"]["keys"]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        secrethub.adapter.post(f"/v1/sys/quotas/lease-count/{name}", json={"path": path, "max_leases": 0})
    secrethub.adapter.delete(f"/v1/sys/quotas/lease-count/{name}")
    with pytest.raises(hvac.exceptions.InvalidPath):
        secrethub.adapter.get(f"/v1/sys/quotas/lease-count/{name}")
