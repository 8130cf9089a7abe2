"""KV v1 and every method of hvac's `secrets.kv.v2`, run against SecretHub and OpenBao alike."""

import hvac
import pytest

from compat import same_answer, same_answers, unique
from conftest import enable_kv


def test_kv1_write_read_list_delete(server, kv1):
    kv = server.secrets.kv.v1
    kv.create_or_update_secret("app/db", {"user": "svc", "port": 5432}, mount_point=kv1)
    kv.create_or_update_secret("app/cache", {"url": "redis://x"}, mount_point=kv1)

    read = kv.read_secret("app/db", mount_point=kv1)
    assert read["data"] == {"user": "svc", "port": 5432}
    assert read["lease_id"] == ""
    assert read["renewable"] is False

    listed = kv.list_secrets("app", mount_point=kv1)
    assert sorted(listed["data"]["keys"]) == ["cache", "db"]
    assert kv.list_secrets("", mount_point=kv1)["data"]["keys"] == ["app/"]

    kv.delete_secret("app/db", mount_point=kv1)
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret("app/db", mount_point=kv1)


def test_kv1_missing_list_is_invalid_path(server, kv1):
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.secrets.kv.v1.list_secrets("nothing-here", mount_point=kv1)


def test_kv1_read_shape_matches_openbao(secrethub, bao):
    def setup(client):
        mount = enable_kv(client, 1)
        client.secrets.kv.v1.create_or_update_secret("s", {"k": "v"}, mount_point=mount)
        return mount

    same_answer(
        secrethub, bao, lambda c, m: c.secrets.kv.v1.read_secret("s", mount_point=m), setup=setup
    )


def test_kv2_configure_and_read_configuration(server, kv2):
    kv = server.secrets.kv.v2
    kv.configure(max_versions=3, cas_required=True, delete_version_after="1h", mount_point=kv2)
    config = kv.read_configuration(mount_point=kv2)["data"]
    assert config["max_versions"] == 3
    assert config["cas_required"] is True
    assert config["delete_version_after"] == "1h0m0s"


def test_kv2_write_and_read_versions(server, kv2):
    kv = server.secrets.kv.v2
    first = kv.create_or_update_secret("app/api", {"key": "one"}, mount_point=kv2)
    assert first["data"]["version"] == 1
    assert first["data"]["deletion_time"] == ""
    assert first["data"]["destroyed"] is False
    second = kv.create_or_update_secret("app/api", {"key": "two"}, mount_point=kv2)
    assert second["data"]["version"] == 2

    latest = kv.read_secret("app/api", mount_point=kv2, raise_on_deleted_version=True)
    assert latest["data"]["data"] == {"key": "two"}
    assert latest["data"]["metadata"]["version"] == 2
    old = kv.read_secret_version(
        "app/api", version=1, mount_point=kv2, raise_on_deleted_version=True
    )
    assert old["data"]["data"] == {"key": "one"}
    assert old["data"]["metadata"]["version"] == 1


def test_kv2_check_and_set(server, kv2):
    kv = server.secrets.kv.v2
    kv.create_or_update_secret("cas", {"v": 1}, cas=0, mount_point=kv2)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        kv.create_or_update_secret("cas", {"v": 2}, cas=0, mount_point=kv2)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        kv.create_or_update_secret("cas", {"v": 2}, cas=5, mount_point=kv2)
    assert kv.create_or_update_secret("cas", {"v": 2}, cas=1, mount_point=kv2)["data"]["version"] == 2


def test_kv2_patch_merges_into_latest(server, kv2):
    kv = server.secrets.kv.v2
    kv.create_or_update_secret("p", {"a": "1", "b": "2"}, mount_point=kv2)
    patched = kv.patch("p", {"b": "3", "c": "4"}, mount_point=kv2)
    assert patched["data"]["version"] == 2
    read = kv.read_secret("p", mount_point=kv2, raise_on_deleted_version=True)
    assert read["data"]["data"] == {"a": "1", "b": "3", "c": "4"}


def test_kv2_patch_of_missing_secret_is_invalid_path(server, kv2):
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.secrets.kv.v2.patch("absent", {"a": "1"}, mount_point=kv2)


def test_kv2_delete_latest_then_undelete(server, kv2):
    kv = server.secrets.kv.v2
    kv.create_or_update_secret("d", {"v": "1"}, mount_point=kv2)
    kv.create_or_update_secret("d", {"v": "2"}, mount_point=kv2)
    kv.delete_latest_version_of_secret("d", mount_point=kv2)

    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret("d", mount_point=kv2, raise_on_deleted_version=True)
    deleted = kv.read_secret("d", mount_point=kv2, raise_on_deleted_version=False)
    assert deleted["data"]["data"] is None
    assert deleted["data"]["metadata"]["deletion_time"] != ""
    assert deleted["data"]["metadata"]["version"] == 2

    kv.undelete_secret_versions("d", versions=[2], mount_point=kv2)
    read = kv.read_secret("d", mount_point=kv2, raise_on_deleted_version=True)
    assert read["data"]["data"] == {"v": "2"}


def test_kv2_delete_specific_versions(server, kv2):
    kv = server.secrets.kv.v2
    for n in range(3):
        kv.create_or_update_secret("sv", {"n": n}, mount_point=kv2)
    kv.delete_secret_versions("sv", versions=[1, 2], mount_point=kv2)
    meta = kv.read_secret_metadata("sv", mount_point=kv2)["data"]
    assert meta["versions"]["1"]["deletion_time"] != ""
    assert meta["versions"]["2"]["deletion_time"] != ""
    assert meta["versions"]["3"]["deletion_time"] == ""
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_version("sv", version=1, mount_point=kv2, raise_on_deleted_version=True)
    latest = kv.read_secret("sv", mount_point=kv2, raise_on_deleted_version=True)
    assert latest["data"]["data"] == {"n": 2}


def test_kv2_destroy_versions(server, kv2):
    kv = server.secrets.kv.v2
    kv.create_or_update_secret("x", {"v": "1"}, mount_point=kv2)
    kv.create_or_update_secret("x", {"v": "2"}, mount_point=kv2)
    kv.destroy_secret_versions("x", versions=[1], mount_point=kv2)
    meta = kv.read_secret_metadata("x", mount_point=kv2)["data"]
    assert meta["versions"]["1"]["destroyed"] is True
    assert meta["versions"]["2"]["destroyed"] is False
    # A destroyed version is a 404 whose body still carries its metadata; undelete cannot
    # bring it back.
    kv.undelete_secret_versions("x", versions=[1], mount_point=kv2)
    with pytest.raises(hvac.exceptions.InvalidPath) as e:
        kv.read_secret_version("x", version=1, mount_point=kv2, raise_on_deleted_version=False)
    assert e.value.json["data"]["data"] is None
    assert e.value.json["data"]["metadata"]["destroyed"] is True
    assert kv.read_secret("x", mount_point=kv2, raise_on_deleted_version=True)["data"]["data"] == {"v": "2"}


def test_kv2_list_secrets(server, kv2):
    kv = server.secrets.kv.v2
    kv.create_or_update_secret("team/a", {"v": 1}, mount_point=kv2)
    kv.create_or_update_secret("team/b/c", {"v": 1}, mount_point=kv2)
    assert sorted(kv.list_secrets("team", mount_point=kv2)["data"]["keys"]) == ["a", "b/"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.list_secrets("nobody", mount_point=kv2)


def test_kv2_metadata_read_update_delete(server, kv2):
    kv = server.secrets.kv.v2
    kv.create_or_update_secret("m", {"v": 1}, mount_point=kv2)
    kv.update_metadata(
        "m",
        max_versions=5,
        cas_required=True,
        delete_version_after="30m",
        custom_metadata={"owner": "billing"},
        mount_point=kv2,
    )
    meta = kv.read_secret_metadata("m", mount_point=kv2)["data"]
    assert meta["max_versions"] == 5
    assert meta["cas_required"] is True
    assert meta["delete_version_after"] == "30m0s"
    assert meta["custom_metadata"] == {"owner": "billing"}
    assert meta["current_version"] == 1
    assert sorted(meta["versions"]) == ["1"]

    kv.delete_metadata_and_all_versions("m", mount_point=kv2)
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_metadata("m", mount_point=kv2)
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret("m", mount_point=kv2, raise_on_deleted_version=True)


def test_kv2_max_versions_drops_oldest(server, kv2):
    kv = server.secrets.kv.v2
    kv.configure(max_versions=2, mount_point=kv2)
    for n in range(3):
        kv.create_or_update_secret("mv", {"n": n}, mount_point=kv2)
    meta = kv.read_secret_metadata("mv", mount_point=kv2)["data"]
    assert sorted(meta["versions"]) == ["2", "3"]
    assert meta["oldest_version"] == 2


def test_kv2_shapes_match_openbao(secrethub, bao):
    def setup(client):
        mount = enable_kv(client, 2)
        client.secrets.kv.v2.create_or_update_secret("s", {"k": "v"}, mount_point=mount)
        client.secrets.kv.v2.delete_secret_versions("s", versions=[1], mount_point=mount)
        client.secrets.kv.v2.create_or_update_secret("s", {"k": "w"}, mount_point=mount)
        return mount

    kv = lambda c: c.secrets.kv.v2  # noqa: E731
    calls = {
        "write": lambda c, m: kv(c).create_or_update_secret("s", {"k": "x"}, mount_point=m),
        "read": lambda c, m: kv(c).read_secret("s", mount_point=m, raise_on_deleted_version=True),
        "read deleted version": lambda c, m: kv(c).read_secret_version(
            "s", version=1, mount_point=m, raise_on_deleted_version=True
        ),
        "read missing version": lambda c, m: kv(c).read_secret_version(
            "s", version=99, mount_point=m, raise_on_deleted_version=True
        ),
        "metadata": lambda c, m: kv(c).read_secret_metadata("s", mount_point=m),
        "configuration": lambda c, m: kv(c).read_configuration(mount_point=m),
        "list": lambda c, m: kv(c).list_secrets("", mount_point=m),
        "read missing": lambda c, m: kv(c).read_secret(
            unique("none"), mount_point=m, raise_on_deleted_version=True
        ),
    }
    same_answers(secrethub, bao, calls, setup=setup)


def test_kv2_deleted_version_body_matches_openbao(secrethub, bao):
    """A read of a deleted version answers 404 with the metadata in the body (hvac's
    raise_on_deleted_version=False depends on it)."""

    def setup(client):
        mount = enable_kv(client, 2)
        client.secrets.kv.v2.create_or_update_secret("s", {"k": "v"}, mount_point=mount)
        client.secrets.kv.v2.delete_latest_version_of_secret("s", mount_point=mount)
        return mount

    ours, _ = same_answer(
        secrethub,
        bao,
        lambda c, m: c.secrets.kv.v2.read_secret("s", mount_point=m, raise_on_deleted_version=True),
        project=lambda body: body.get("data", {}).get("metadata") and {"data": body["data"]["metadata"]},
        setup=setup,
    )
    assert ours.status == 404
