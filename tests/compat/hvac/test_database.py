"""The database engine through hvac against the machine's PostgreSQL (trust auth): connection
config, roles, credentials, and the leases they come with (`sys/leases` lookup, list, renew,
revoke, revoke-prefix)."""

import hvac
import pytest

from compat import same_answer, same_answers, unique
from conftest import psql

CREATION = [
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
]


def role_exists(username):
    return psql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{username}'") == "1"


def setup_database(client, database):
    """A database mount with one connection and one role; returns (mount, connection, role)."""
    mount, connection, role = unique("db"), unique("conn"), unique("role")
    client.adapter.post(f"/v1/sys/mounts/{mount}", json={"type": "database"})
    client.secrets.database.configure(
        connection,
        "postgresql-database-plugin",
        allowed_roles=[role],
        connection_url=f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:5432/{database}?sslmode=disable",
        username="postgres",
        password="unused-with-trust-auth",
        mount_point=mount,
    )
    client.secrets.database.create_role(
        role,
        db_name=connection,
        creation_statements=CREATION,
        default_ttl="1h",
        max_ttl="24h",
        mount_point=mount,
    )
    return mount, connection, role


@pytest.fixture
def db(server, pg_database):
    mount, connection, role = setup_database(server, pg_database)
    yield mount, connection, role
    # Disabling the mount revokes what the test left behind, so no PostgreSQL user outlives it.
    server.sys.disable_secrets_engine(mount)


def test_connection_config(server, db):
    mount, connection, role = db
    config = server.secrets.database.read_connection(connection, mount_point=mount)["data"]
    assert config["plugin_name"] == "postgresql-database-plugin"
    assert config["allowed_roles"] == [role]
    assert "password" not in config["connection_details"]
    assert config["connection_details"]["username"] == "postgres"
    assert server.secrets.database.list_connections(mount_point=mount)["data"]["keys"] == [connection]
    server.secrets.database.reset_connection(connection, mount_point=mount)


def test_roles(server, db):
    mount, connection, role = db
    read = server.secrets.database.read_role(role, mount_point=mount)["data"]
    assert read["db_name"] == connection
    assert read["creation_statements"] == CREATION
    assert read["default_ttl"] == 3600
    assert read["max_ttl"] == 86400
    assert server.secrets.database.list_roles(mount_point=mount)["data"]["keys"] == [role]
    server.secrets.database.delete_role(role, mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.secrets.database.read_role(role, mount_point=mount)


def test_generate_credentials_creates_a_user(server, db):
    mount, _, role = db
    creds = server.secrets.database.generate_credentials(role, mount_point=mount)
    assert creds["lease_id"].startswith(f"{mount}/creds/{role}/")
    assert creds["lease_duration"] == 3600
    assert creds["renewable"] is True
    username = creds["data"]["username"]
    assert creds["data"]["password"]
    assert role_exists(username)

    server.sys.revoke_lease(creds["lease_id"])
    assert not role_exists(username)


def test_credentials_for_a_role_not_allowed(server, db):
    """OpenBao answers 500 here (InternalServerError), a client error it does not classify;
    any refusal naming the role will do."""
    mount, connection, _ = db
    other = unique("other")
    server.secrets.database.create_role(
        other, db_name=connection, creation_statements=CREATION, mount_point=mount
    )
    with pytest.raises(hvac.exceptions.VaultError) as e:
        server.secrets.database.generate_credentials(other, mount_point=mount)
    assert "not an allowed role" in str(e.value)


def test_lease_lookup(server, db):
    mount, _, role = db
    creds = server.secrets.database.generate_credentials(role, mount_point=mount)
    lease = server.sys.read_lease(creds["lease_id"])["data"]
    assert lease["id"] == creds["lease_id"]
    assert lease["renewable"] is True
    assert 3500 < lease["ttl"] <= 3600
    assert lease["issue_time"] and lease["expire_time"]
    assert lease["last_renewal"] is None


def test_lease_list(server, db):
    mount, _, role = db
    ids = [
        server.secrets.database.generate_credentials(role, mount_point=mount)["lease_id"]
        for _ in range(2)
    ]
    keys = server.sys.list_leases(f"{mount}/creds/{role}/")["data"]["keys"]
    assert sorted(keys) == sorted(i.rsplit("/", 1)[1] for i in ids)
    assert server.sys.list_leases(f"{mount}/creds/")["data"]["keys"] == [f"{role}/"]


def test_lease_renew(server, db):
    mount, _, role = db
    lease_id = server.secrets.database.generate_credentials(role, mount_point=mount)["lease_id"]
    renewed = server.sys.renew_lease(lease_id, increment=600)
    assert renewed["lease_id"] == lease_id
    assert renewed["lease_duration"] == 600
    assert renewed["renewable"] is True
    lease = server.sys.read_lease(lease_id)["data"]
    assert 500 < lease["ttl"] <= 600
    assert lease["last_renewal"] is not None


def test_lease_renew_without_increment(server, db):
    """hvac sends `"increment": null` when none is given: the lease's default applies."""
    mount, _, role = db
    lease_id = server.secrets.database.generate_credentials(role, mount_point=mount)["lease_id"]
    renewed = server.sys.renew_lease(lease_id)
    assert renewed["lease_id"] == lease_id
    assert renewed["lease_duration"] == 3600


def test_revoke_prefix(server, db):
    mount, _, role = db
    users = [
        server.secrets.database.generate_credentials(role, mount_point=mount)["data"]["username"]
        for _ in range(2)
    ]
    assert all(role_exists(u) for u in users)
    server.sys.revoke_prefix(f"{mount}/creds/{role}")
    assert not any(role_exists(u) for u in users)
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.sys.list_leases(f"{mount}/creds/{role}/")


def test_revoked_lease_lookup_is_invalid_request(server, db):
    mount, _, role = db
    lease_id = server.secrets.database.generate_credentials(role, mount_point=mount)["lease_id"]
    server.sys.revoke_lease(lease_id)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        server.sys.read_lease(lease_id)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        server.sys.renew_lease(lease_id)


@pytest.fixture
def compared(secrethub, bao, pg_database):
    """A `setup` for `same_answer`: a database mount with credentials on each server, all
    disabled afterwards (which revokes their users)."""
    created = []

    def setup(client):
        mount, connection, role = setup_database(client, pg_database)
        created.append((client, mount))
        creds = client.secrets.database.generate_credentials(role, mount_point=mount)
        return mount, connection, role, creds["lease_id"]

    yield setup
    for client, mount in created:
        client.sys.disable_secrets_engine(mount)


def test_database_and_lease_shapes_match_openbao(secrethub, bao, compared):
    calls = {
        "generate credentials": lambda c, s: c.secrets.database.generate_credentials(
            s[2], mount_point=s[0]
        ),
        "read connection": lambda c, s: c.secrets.database.read_connection(
            s[1], mount_point=s[0]
        ),
        "read role": lambda c, s: c.secrets.database.read_role(s[2], mount_point=s[0]),
        "list roles": lambda c, s: c.secrets.database.list_roles(mount_point=s[0]),
        "lease lookup": lambda c, s: c.sys.read_lease(s[3]),
        "lease list": lambda c, s: c.sys.list_leases(f"{s[0]}/creds/{s[2]}/"),
        "lease renew": lambda c, s: c.sys.renew_lease(s[3], increment=600),
        "lease revoke": lambda c, s: c.sys.revoke_lease(s[3]),
        "lookup of unknown lease": lambda c, s: c.sys.read_lease(f"{s[0]}/creds/{s[2]}/nope"),
        "renew of unknown lease": lambda c, s: c.sys.renew_lease(f"{s[0]}/creds/{s[2]}/nope"),
        "missing role": lambda c, s: c.secrets.database.generate_credentials(
            "nope", mount_point=s[0]
        ),
    }
    same_answers(secrethub, bao, calls, setup=compared)


def test_lease_lookup_shape_matches_openbao(secrethub, bao, compared):
    """`sys/leases/lookup` answers id, issue_time, expire_time, last_renewal, renewable, ttl."""
    ours, theirs = same_answer(
        secrethub, bao, lambda c, s: c.sys.read_lease(s[3]), setup=compared
    )
    assert sorted(ours.body["data"]) == sorted(theirs.body["data"])
