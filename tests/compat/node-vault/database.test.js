'use strict';
// The database engine and leases through node-vault against the machine's PostgreSQL (trust
// auth): generateDatabaseCredentials, lease lookup and list, renew (by hand and node-vault's
// startLeaseRenewal), revoke, revoke by prefix and node-vault's revokePrefix.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { SERVERS, SECRETHUB, vault, unique, failure, sameAnswers, psql } = require('./helpers');

const CREATION = ['CREATE ROLE "{{name}}" WITH LOGIN PASSWORD \'{{password}}\' VALID UNTIL \'{{expiration}}\';'];
const database = unique('node_vault_compat');
const mounts = [];

before(() => psql(`CREATE DATABASE ${database}`));
after(async () => {
    // Disabling a mount revokes its leases, so no PostgreSQL user outlives the suite.
    for (const [server, mount] of mounts) await vault(server).unmount({ mount_point: mount });
    psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
});

const userExists = (name) => psql(`SELECT count(*) FROM pg_roles WHERE rolname = '${name}'`) === '1';

/** A database mount with one connection and one role; returns { mount, role }. */
async function setupDatabase(server) {
    const v = vault(server);
    const mount = unique('db');
    const role = unique('role');
    await v.mount({ mount_point: mount, type: 'database' });
    mounts.push([server, mount]);
    await v.write(`${mount}/config/pg`, {
        plugin_name: 'postgresql-database-plugin',
        connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:5432/${database}?sslmode=disable`,
        username: 'postgres',
        password: 'unused-with-trust-auth',
        allowed_roles: role,
    });
    await v.write(`${mount}/roles/${role}`, {
        db_name: 'pg', creation_statements: CREATION, default_ttl: '1h', max_ttl: '24h',
    });
    return { mount, role };
}

for (const server of SERVERS) {
    test(`credentials, lease lookup, renew and revoke [${server.name}]`, async () => {
        const { mount, role } = await setupDatabase(server);
        const v = vault(server);
        const creds = await v.generateDatabaseCredentials({ databasePath: mount, name: role });
        assert.ok(creds.lease_id.startsWith(`${mount}/creds/${role}/`));
        assert.equal(creds.lease_duration, 3600);
        assert.equal(creds.renewable, true);
        assert.ok(userExists(creds.data.username));

        const lease = (await v.write('sys/leases/lookup', { lease_id: creds.lease_id })).data;
        assert.equal(lease.id, creds.lease_id);
        assert.ok(lease.ttl > 3500 && lease.ttl <= 3600);

        const renewed = await v.renew({ lease_id: creds.lease_id, increment: 600 });
        assert.equal(renewed.lease_id, creds.lease_id);
        assert.equal(renewed.lease_duration, 600);

        await v.revoke({ lease_id: creds.lease_id });
        assert.ok(!userExists(creds.data.username));
        assert.equal((await failure(v.renew({ lease_id: creds.lease_id }))).status, 400);
    });

    test(`revoke by prefix [${server.name}]`, async () => {
        const { mount, role } = await setupDatabase(server);
        const v = vault(server);
        const users = [];
        for (let i = 0; i < 2; i += 1) {
            users.push((await v.generateDatabaseCredentials({ databasePath: mount, name: role })).data.username);
        }
        assert.ok(users.every(userExists));
        await v.write(`sys/leases/revoke-prefix/${mount}/creds/${role}`, {});
        assert.ok(!users.some(userExists));
        assert.equal((await failure(v.list(`sys/leases/lookup/${mount}/creds/${role}/`))).status, 404);
    });

    test(`automatic lease renewal [${server.name}]`, async () => {
        const { mount, role } = await setupDatabase(server);
        const v = vault(server);
        const creds = await v.generateDatabaseCredentials({ databasePath: mount, name: role });
        // node-vault renews at renewFraction of the duration given; 1 s is its shortest delay.
        const renewed = new Promise((resolve, reject) => {
            v.once('lease:renewed', resolve);
            v.once('lease:error:renew', reject);
        });
        // node-vault's timers do not hold the event loop open; this bound does, and fails the test
        // if no renewal comes.
        let deadline;
        const timedOut = new Promise((_, reject) => {
            deadline = setTimeout(() => reject(new Error('no lease:renewed within 30 s')), 30000);
        });
        v.startLeaseRenewal(creds.lease_id, 1, { increment: 900 });
        const event = await Promise.race([renewed, timedOut]).finally(() => {
            clearTimeout(deadline);
            v.stopAllRenewals();
        });
        assert.equal(event.leaseId, creds.lease_id);
        assert.equal(event.result.lease_duration, 900);
    });
}

test('revokePrefix (the legacy sys/revoke-prefix path) [secrethub]', async () => {
    // HashiCorp Vault still serves sys/revoke-prefix, which node-vault's revokePrefix uses;
    // OpenBao 2.7 dropped it (404), so this runs against SecretHub alone.
    const { mount, role } = await setupDatabase(SECRETHUB);
    const v = vault(SECRETHUB);
    const { username } = (await v.generateDatabaseCredentials({ databasePath: mount, name: role })).data;
    assert.ok(userExists(username));
    await v.revokePrefix({ path_prefix: `${mount}/creds/${role}` });
    assert.ok(!userExists(username));
});

test('database and lease answers match OpenBao', async () => {
    const setup = async (s) => {
        const { mount, role } = await setupDatabase(s);
        const creds = await vault(s).generateDatabaseCredentials({ databasePath: mount, name: role });
        return { mount, role, lease: creds.lease_id };
    };
    await sameAnswers({
        credentials: (s, p) => vault(s).generateDatabaseCredentials({ databasePath: p.mount, name: p.role }),
        'missing role': (s, p) => vault(s).generateDatabaseCredentials({ databasePath: p.mount, name: 'nope' }),
        'lease lookup': (s, p) => vault(s).write('sys/leases/lookup', { lease_id: p.lease }),
        'lease list': (s, p) => vault(s).list(`sys/leases/lookup/${p.mount}/creds/${p.role}/`),
        renew: (s, p) => vault(s).renew({ lease_id: p.lease, increment: 600 }),
        'renew unknown': (s, p) => vault(s).renew({ lease_id: `${p.mount}/creds/${p.role}/nope` }),
        revoke: (s, p) => vault(s).revoke({ lease_id: p.lease }),
        'revoke prefix': (s, p) => vault(s).write(`sys/leases/revoke-prefix/${p.mount}/creds/${p.role}`, {}),
        'read connection': (s, p) => vault(s).read(`${p.mount}/config/pg`),
        'read role': (s, p) => vault(s).read(`${p.mount}/roles/${p.role}`),
    }, { setup });
});
