"""SecretHub only: the seed's `POST /v1/secrets/dynamic/:role` (a credential from the database
role of that name on the `database/` mount, in the seed's shape) through hvac's adapter, against
the machine's PostgreSQL. OpenBao has no such endpoint. The mount path is fixed by the
endpoint, so it is shared by every run (mounted by the first, never disabled); the connection
and role in it are the test's own."""

import hvac
import pytest

from compat import unique
from conftest import psql
from test_database import CREATION


def ensure_database_mount(client):
    try:
        client.adapter.post("/v1/sys/mounts/database", json={"type": "database"})
    except hvac.exceptions.InvalidRequest:
        assert client.adapter.get("/v1/sys/mounts/database")["data"]["type"] == "database"


def test_dynamic_credentials(secrethub, pg_database):
    ensure_database_mount(secrethub)
    connection, role = unique("conn"), unique("role")
    secrethub.secrets.database.configure(
        connection,
        "postgresql-database-plugin",
        allowed_roles=[role],
        connection_url=f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:5432/{pg_database}?sslmode=disable",
        username="postgres",
        password="unused-with-trust-auth",
        mount_point="database",
    )
    secrethub.secrets.database.create_role(
        role, db_name=connection, creation_statements=CREATION, default_ttl="1h", mount_point="database"
    )
    answer = secrethub.adapter.post(
        f"/v1/secrets/dynamic/{role}", json={"ttl": 600, "metadata": {"app": "billing"}}
    )
    username = answer["credentials"]["username"]
    assert answer["credentials"]["password"]
    assert answer["lease_duration"] == 600
    assert answer["renewable"] is True
    assert psql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{username}'") == "1"
    assert secrethub.sys.read_lease(answer["lease_id"])["data"]["ttl"] > 0

    secrethub.sys.revoke_lease(answer["lease_id"])
    assert psql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{username}'") == "0"
    with pytest.raises(hvac.exceptions.VaultError):
        secrethub.adapter.post(f"/v1/secrets/dynamic/{unique('nope')}", json={})
    secrethub.secrets.database.delete_role(role, mount_point="database")
    secrethub.secrets.database.delete_connection(connection, mount_point="database")
