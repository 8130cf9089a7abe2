"""KV v2 endpoints hvac has no call for, reached through hvac's adapter (its sessions, its
error mapping): PATCH of `metadata/:path` (JSON merge patch) and `subkeys/:path`; compared
with a real OpenBao dev server."""

import hvac
import pytest

from compat import same_answers
from conftest import enable_kv

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def test_patch_metadata(server, kv2):
    server.secrets.kv.v2.create_or_update_secret("app", {"a": "1"}, mount_point=kv2)
    server.secrets.kv.v2.update_metadata(
        "app", max_versions=5, custom_metadata={"owner": "ops", "tier": "1"}, mount_point=kv2
    )
    server.adapter.request(
        "PATCH",
        f"/v1/{kv2}/metadata/app",
        headers=MERGE_PATCH,
        json={"custom_metadata": {"tier": None, "team": "red"}, "delete_version_after": "1h"},
    )
    meta = server.secrets.kv.v2.read_secret_metadata("app", mount_point=kv2)["data"]
    assert meta["custom_metadata"] == {"owner": "ops", "team": "red"}
    assert meta["max_versions"] == 5
    assert meta["delete_version_after"] == "1h0m0s"


def test_patch_metadata_of_missing_secret(server, kv2):
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.adapter.request(
            "PATCH", f"/v1/{kv2}/metadata/nope", headers=MERGE_PATCH, json={"max_versions": 2}
        )


def test_subkeys(server, kv2):
    server.secrets.kv.v2.create_or_update_secret(
        "nested", {"db": {"user": "u", "pw": "p"}, "port": 1}, mount_point=kv2
    )
    server.secrets.kv.v2.create_or_update_secret("nested", {"only": "v2"}, mount_point=kv2)
    latest = server.adapter.get(f"/v1/{kv2}/subkeys/nested")["data"]
    assert latest["subkeys"] == {"only": None}
    assert latest["metadata"]["version"] == 2
    first = server.adapter.get(f"/v1/{kv2}/subkeys/nested", params={"version": 1})["data"]
    assert first["subkeys"] == {"db": {"user": None, "pw": None}, "port": None}
    shallow = server.adapter.get(f"/v1/{kv2}/subkeys/nested", params={"version": 1, "depth": 1})
    assert shallow["data"]["subkeys"] == {"db": None, "port": None}


def test_patch_metadata_and_subkeys_match_openbao(secrethub, bao):
    def setup(client):
        path = enable_kv(client, 2)
        client.secrets.kv.v2.create_or_update_secret("s", {"a": {"b": "c"}}, mount_point=path)
        return path

    same_answers(
        secrethub,
        bao,
        {
            "patch metadata": lambda c, m: c.adapter.request(
                "PATCH", f"/v1/{m}/metadata/s", headers=MERGE_PATCH, json={"max_versions": 3}
            ),
            "patch metadata of missing": lambda c, m: c.adapter.request(
                "PATCH", f"/v1/{m}/metadata/nope", headers=MERGE_PATCH, json={"max_versions": 3}
            ),
            "subkeys": lambda c, m: c.adapter.get(f"/v1/{m}/subkeys/s"),
            "subkeys depth": lambda c, m: c.adapter.get(f"/v1/{m}/subkeys/s", params={"depth": 1}),
            "subkeys of missing": lambda c, m: c.adapter.get(f"/v1/{m}/subkeys/nope"),
        },
        setup=setup,
    )

