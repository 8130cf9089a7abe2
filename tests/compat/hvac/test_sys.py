"""`sys/` through hvac: mounts, auth methods, policies, audit devices, health and seal status."""

import json
import os
import tempfile

import hvac
import pytest

from compat import same_answer, unique


def without_mount_paths(body):
    """A mount listing without its (server-specific) mount paths: the top-level keys that
    are not paths, and the keys of the `secret/` entry as `data`."""
    if not isinstance(body, dict):
        return body
    top = {k: v for k, v in body.items() if not k.endswith("/")}
    top["data"] = (body.get("data") or {}).get("secret/")
    return top


def test_enable_kv2_with_hvac_defaults(server):
    """hvac sends every unset optional parameter as JSON null (config, plugin_name,
    description); a server must read null as "not given"."""
    path = unique("kv")
    server.sys.enable_secrets_engine("kv", path=path, options={"version": "2"})
    assert server.sys.retrieve_mount_option(path, "version") == "2"
    mounts = server.sys.list_mounted_secrets_engines()["data"]
    assert mounts[f"{path}/"]["type"] == "kv"
    written = server.secrets.kv.v2.create_or_update_secret("a", {"b": "c"}, mount_point=path)
    assert written["data"]["version"] == 1
    server.sys.disable_secrets_engine(path)


def test_enable_secrets_engine_with_config_and_description(server):
    path = unique("kv")
    server.sys.enable_secrets_engine(
        "kv",
        path=path,
        description="billing secrets",
        config={"default_lease_ttl": "1h", "max_lease_ttl": "2h"},
        options={"version": "1"},
    )
    entry = server.sys.list_mounted_secrets_engines()["data"][f"{path}/"]
    assert entry["description"] == "billing secrets"
    assert entry["config"]["default_lease_ttl"] == 3600
    assert entry["config"]["max_lease_ttl"] == 7200
    tuning = server.sys.read_mount_configuration(path)["data"]
    assert tuning["default_lease_ttl"] == 3600
    assert tuning["max_lease_ttl"] == 7200
    server.sys.disable_secrets_engine(path)


def test_tune_mount_configuration(server):
    path = unique("kv")
    server.adapter.post(f"/v1/sys/mounts/{path}", json={"type": "kv"})
    server.sys.tune_mount_configuration(
        path, default_lease_ttl="30m", max_lease_ttl="1h", description="tuned"
    )
    tuning = server.sys.read_mount_configuration(path)["data"]
    assert tuning["default_lease_ttl"] == 1800
    assert tuning["max_lease_ttl"] == 3600
    assert tuning["description"] == "tuned"
    server.sys.disable_secrets_engine(path)


def test_disable_secrets_engine_removes_it(server):
    path = unique("kv")
    server.adapter.post(f"/v1/sys/mounts/{path}", json={"type": "kv"})
    server.sys.disable_secrets_engine(path)
    assert f"{path}/" not in server.sys.list_mounted_secrets_engines()["data"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.secrets.kv.v1.read_secret("x", mount_point=path)


def test_mount_listing_matches_openbao(secrethub, bao):
    ours, theirs = same_answer(
        secrethub, bao, lambda c: c.sys.list_mounted_secrets_engines(), project=without_mount_paths
    )
    for mount in ("secret/", "cubbyhole/", "sys/"):
        assert mount in ours.body["data"], f"{mount} missing from SecretHub's mount listing"
    assert ours.body["data"]["secret/"]["options"] == theirs.body["data"]["secret/"]["options"]


def test_mount_tuning_shape_matches_openbao(secrethub, bao):
    same_answer(secrethub, bao, lambda c: c.sys.read_mount_configuration("secret"))


def test_auth_method_enable_tune_disable(server):
    path = unique("up")
    server.sys.enable_auth_method("userpass", path=path, description="people")
    methods = server.sys.list_auth_methods()["data"]
    assert methods[f"{path}/"]["type"] == "userpass"
    assert methods[f"{path}/"]["description"] == "people"
    accessor = methods[f"{path}/"]["accessor"]

    server.sys.tune_auth_method(path, default_lease_ttl="20m", max_lease_ttl="1h")
    tuning = server.sys.read_auth_method_tuning(path)["data"]
    assert tuning["default_lease_ttl"] == 1200
    assert tuning["max_lease_ttl"] == 3600

    server.sys.disable_auth_method(path)
    assert f"{path}/" not in server.sys.list_auth_methods()["data"]
    # Vault and OpenBao name auth mount accessors auth_<type>_<random>.
    assert accessor.startswith("auth_userpass_"), accessor


def test_auth_listing_matches_openbao(secrethub, bao):
    def project(body):
        if not isinstance(body, dict):
            return body
        top = {k: v for k, v in body.items() if not k.endswith("/")}
        top["data"] = (body.get("data") or {}).get("token/")
        return top

    same_answer(secrethub, bao, lambda c: c.sys.list_auth_methods(), project=project)


def test_auth_tuning_shape_matches_openbao(secrethub, bao):
    same_answer(secrethub, bao, lambda c: c.sys.read_auth_method_tuning("token"))


def test_policies_create_read_list_delete(server):
    name = unique("pol")
    rules = 'path "secret/data/app/*" {\n  capabilities = ["read", "list"]\n}\n'
    server.sys.create_or_update_policy(name, rules)
    assert server.sys.read_policy(name)["data"]["rules"] == rules
    policies = server.sys.list_policies()["data"]["policies"]
    assert name in policies and "default" in policies and "root" in policies

    server.sys.delete_policy(name)
    assert name not in server.sys.list_policies()["data"]["policies"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.sys.read_policy(name)


def test_policy_as_json_document(server):
    """hvac turns a dict policy into pretty-printed JSON, which HCL parsers accept."""
    name = unique("pol")
    policy = {"path": {"secret/data/json/*": {"capabilities": ["read"]}}}
    server.sys.create_or_update_policy(name, policy)
    assert json.loads(server.sys.read_policy(name)["data"]["rules"]) == policy
    server.sys.delete_policy(name)


# OpenBao's policy versioning and check-and-set, which HashiCorp Vault does not have.
OPENBAO_POLICY_KEYS = {
    "allow_slashes_in_identity_templates",
    "allow_wildcards_in_identity_templates",
    "cas_required",
    "modified",
    "version",
}


def test_policy_shapes_match_openbao(secrethub, bao):
    same_answer(
        secrethub, bao, lambda c: c.sys.read_policy("default"), ignore=OPENBAO_POLICY_KEYS
    )
    same_answer(secrethub, bao, lambda c: c.sys.list_policies())
    same_answer(secrethub, bao, lambda c: c.sys.read_policy(unique("missing")))
    same_answer(secrethub, bao, lambda c: c.sys.create_or_update_policy(unique("bad"), "path {"))


@pytest.fixture
def audit_file():
    directory = tempfile.mkdtemp(prefix="hvac-audit-")
    return os.path.join(directory, "audit.log")


def test_audit_device_enable_list_hash_disable(secrethub, audit_file):
    """SecretHub only: OpenBao 2.7 refuses to enable audit devices through the API ("use
    declarative, config-based audit device management"); Vault and SecretHub allow it."""
    path = unique("file")
    secrethub.sys.enable_audit_device(
        "file", path=path, description="compat", options={"file_path": audit_file}
    )
    devices = secrethub.sys.list_enabled_audit_devices()["data"]
    assert devices[f"{path}/"]["type"] == "file"
    assert devices[f"{path}/"]["description"] == "compat"
    assert devices[f"{path}/"]["options"]["file_path"] == audit_file

    hashed = secrethub.sys.calculate_hash(path, "hello")["data"]["hash"]
    assert hashed.startswith("hmac-sha256:")
    assert secrethub.sys.calculate_hash(path, "hello")["data"]["hash"] == hashed

    secrethub.sys.list_policies()
    secrethub.sys.disable_audit_device(path)
    assert f"{path}/" not in secrethub.sys.list_enabled_audit_devices()["data"]
    with open(audit_file) as log:
        lines = [json.loads(line) for line in log if line.strip()]
    assert any(
        line.get("type") == "request" and line["request"]["path"] == "sys/policies/acl"
        or line.get("type") == "request" and line["request"]["path"] == "sys/policy"
        for line in lines
    ), lines[-3:]


def test_audit_listing_matches_openbao(secrethub, bao):
    same_answer(
        secrethub,
        bao,
        lambda c: c.sys.list_enabled_audit_devices(),
        project=lambda body: {k: v for k, v in body.items() if not k.endswith("/")},
    )


def test_health(server):
    health = server.sys.read_health_status(method="GET")
    assert health["initialized"] is True
    assert health["sealed"] is False
    assert health["standby"] is False
    head = server.sys.read_health_status()
    assert head.status_code == 200


def test_health_and_seal_status_match_openbao(secrethub, bao):
    same_answer(secrethub, bao, lambda c: c.sys.read_health_status(method="GET"))
    # OpenBao calls Vault's `build_date` (which SecretHub sends) `commit_date`.
    ours, _ = same_answer(
        secrethub, bao, lambda c: c.sys.read_seal_status(), ignore={"commit_date"}
    )
    assert ours.body["sealed"] is False
    assert ours.body["initialized"] is True


def test_seal_status(server):
    assert server.sys.is_sealed() is False
    status = server.sys.read_seal_status()
    assert status["t"] >= 1 and status["n"] >= status["t"]
