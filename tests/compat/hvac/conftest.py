"""Fixtures of the hvac compatibility suite. The runner (crates/secrethub/tests/it/compat_clients.rs,
or a developer by hand) starts `secrethub server -dev` and `bao server -dev` and sets:

  SECRETHUB_ADDR, SECRETHUB_TOKEN   the SecretHub dev server and its root token
  BAO_ADDR, BAO_TOKEN               the OpenBao dev server and its root token
  PG_URL                            an admin URL of the machine's PostgreSQL (default
                                    postgresql://postgres@127.0.0.1:5432/postgres, trust auth)

Everything a test creates has a unique name (mount paths, roles, users, databases), so the suite
runs twice in a row against the same servers and in parallel with other runs."""

import os
import subprocess

import pytest

import compat


def _env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"{name} is not set: run this suite through `cargo test -p secrethub --test it "
            f"compat_clients` (scripts/test), or start the dev servers yourself and set "
            f"SECRETHUB_ADDR, SECRETHUB_TOKEN, BAO_ADDR and BAO_TOKEN"
        )
    return value


@pytest.fixture
def secrethub():
    """An hvac client of the SecretHub dev server with its root token."""
    return compat.client(_env("SECRETHUB_ADDR"), _env("SECRETHUB_TOKEN"))


@pytest.fixture
def bao():
    """An hvac client of the OpenBao dev server with its root token."""
    return compat.client(_env("BAO_ADDR"), _env("BAO_TOKEN"))


@pytest.fixture(params=["secrethub", "bao"])
def server(request):
    """Each server in turn, for behaviour both must have: a test that fails only on
    [secrethub] found a difference from OpenBao, one that fails on [bao] too is wrong itself."""
    prefix = "SECRETHUB" if request.param == "secrethub" else "BAO"
    return compat.client(_env(f"{prefix}_ADDR"), _env(f"{prefix}_TOKEN"))


def enable_kv(client, version):
    """Mounts a KV engine at a unique path the way the Vault CLI sends it (no null fields; the
    null-field form hvac's own `enable_secrets_engine` sends is tested in test_sys.py)."""
    path = compat.unique("kv")
    client.adapter.post(
        f"/v1/sys/mounts/{path}", json={"type": "kv", "options": {"version": str(version)}}
    )
    return path


@pytest.fixture
def kv2(server):
    """A fresh KV v2 mount on `server`; disabled afterwards."""
    path = enable_kv(server, 2)
    yield path
    server.sys.disable_secrets_engine(path)


@pytest.fixture
def kv1(server):
    """A fresh KV v1 mount on `server`; disabled afterwards."""
    path = enable_kv(server, 1)
    yield path
    server.sys.disable_secrets_engine(path)


def pg_url():
    return os.environ.get("PG_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


def psql(sql, url=None):
    """Runs one SQL statement as the PostgreSQL admin and returns its unaligned output."""
    done = subprocess.run(
        ["psql", "-w", "-X", "-v", "ON_ERROR_STOP=1", "-tA", "-d", url or pg_url(), "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"psql {sql!r} failed: {done.stderr.strip()} (is PostgreSQL on {pg_url()}?)")
    return done.stdout.strip()


@pytest.fixture(scope="session")
def pg_database():
    """A database of this run's own on the machine's PostgreSQL, dropped at the end."""
    name = compat.unique("hvac_compat")
    psql(f"CREATE DATABASE {name}")
    yield name
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
