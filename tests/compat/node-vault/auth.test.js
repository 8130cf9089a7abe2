'use strict';
// AppRole and userpass through node-vault: role and secret-id management, logins (which switch
// the client to the new token), and failed logins.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { SERVERS, vault, unique, failure, sameAnswers } = require('./helpers');

async function enable(server, type) {
    const mount = unique(type);
    await vault(server).enableAuth({ mount_point: mount, type });
    return mount;
}

for (const server of SERVERS) {
    test(`approle roles, role ids and secret ids [${server.name}]`, async () => {
        const v = vault(server);
        const mount = await enable(server, 'approle');
        await v.addApproleRole({
            mount_point: mount, role_name: 'billing', policies: 'default,billing', token_ttl: 1200, secret_id_ttl: 600,
        });
        const role = (await v.getApproleRole({ mount_point: mount, role_name: 'billing' })).data;
        assert.deepEqual([...role.token_policies].sort(), ['billing', 'default']);
        assert.equal(role.token_ttl, 1200);
        assert.equal(role.secret_id_ttl, 600);
        assert.deepEqual((await v.approleRoles({ mount_point: mount })).data.keys, ['billing']);

        await v.updateApproleRoleId({ mount_point: mount, role_name: 'billing', role_id: 'custom-role-id' });
        const roleId = (await v.getApproleRoleId({ mount_point: mount, role_name: 'billing' })).data.role_id;
        assert.equal(roleId, 'custom-role-id');

        const first = (await v.getApproleRoleSecret({
            mount_point: mount, role_name: 'billing', metadata: JSON.stringify({ host: 'web-1' }),
        })).data;
        const second = (await v.getApproleRoleSecret({ mount_point: mount, role_name: 'billing' })).data;
        const accessors = (await v.approleSecretAccessors({ mount_point: mount, role_name: 'billing' })).data.keys;
        assert.deepEqual([...accessors].sort(), [first.secret_id_accessor, second.secret_id_accessor].sort());

        const info = (await v.approleSecretLookup({
            mount_point: mount, role_name: 'billing', secret_id: first.secret_id,
        })).data;
        assert.deepEqual(info.metadata, { host: 'web-1' });
        const byAccessor = (await v.approleSecretAccessorLookup({
            mount_point: mount, role_name: 'billing', secret_id_accessor: first.secret_id_accessor,
        })).data;
        assert.deepEqual(byAccessor.metadata, { host: 'web-1' });

        await v.approleSecretDestroy({ mount_point: mount, role_name: 'billing', secret_id: first.secret_id });
        await v.approleSecretAccessorDestroy({
            mount_point: mount, role_name: 'billing', secret_id_accessor: second.secret_id_accessor,
        });
        for (const secretId of [first.secret_id, second.secret_id]) {
            const refused = await failure(vault(server, null).approleLogin({
                mount_point: mount, role_id: roleId, secret_id: secretId,
            }));
            assert.equal(refused.status, 400);
        }

        await v.deleteApproleRole({ mount_point: mount, role_name: 'billing' });
        assert.equal((await failure(v.getApproleRole({ mount_point: mount, role_name: 'billing' }))).status, 404);
        await v.disableAuth({ mount_point: mount });
    });

    test(`approle login [${server.name}]`, async () => {
        const v = vault(server);
        const mount = await enable(server, 'approle');
        await v.addApproleRole({ mount_point: mount, role_name: 'web', policies: 'default', token_ttl: 1200 });
        const roleId = (await v.getApproleRoleId({ mount_point: mount, role_name: 'web' })).data.role_id;
        const secretId = (await v.getApproleRoleSecret({ mount_point: mount, role_name: 'web' })).data.secret_id;

        const client = vault(server, null);
        const login = (await client.approleLogin({ mount_point: mount, role_id: roleId, secret_id: secretId })).auth;
        assert.deepEqual(login.policies, ['default']);
        assert.equal(login.lease_duration, 1200);
        assert.deepEqual(login.metadata, { role_name: 'web' });
        assert.equal(client.token, login.client_token, 'node-vault adopts the login token');
        assert.equal((await client.tokenLookupSelf()).data.path, `auth/${mount}/login`);

        const wrong = await failure(vault(server, null).approleLogin({ mount_point: mount, role_id: roleId, secret_id: 'x' }));
        assert.equal(wrong.status, 400);
        await v.disableAuth({ mount_point: mount });
    });

    test(`userpass login [${server.name}]`, async () => {
        const v = vault(server);
        const mount = await enable(server, 'userpass');
        await v.write(`auth/${mount}/users/bob`, { password: 's3cret', token_policies: 'default', token_ttl: '30m' });
        const client = vault(server, null);
        const login = (await client.userpassLogin({ mount_point: mount, username: 'bob', password: 's3cret' })).auth;
        assert.deepEqual(login.policies, ['default']);
        assert.equal(login.lease_duration, 1800);
        assert.deepEqual(login.metadata, { username: 'bob' });
        assert.equal(client.token, login.client_token);
        assert.equal((await client.tokenLookupSelf()).data.display_name, `${mount}-bob`);

        for (const [username, password] of [['bob', 'wrong'], ['nobody', 'x']]) {
            const refused = await failure(vault(server, null).userpassLogin({ mount_point: mount, username, password }));
            assert.equal(refused.status, 400);
        }
        await v.disableAuth({ mount_point: mount });
    });
}

test('auth method answers match OpenBao', async () => {
    const setup = async (s) => {
        const approle = await enable(s, 'approle');
        const v = vault(s);
        await v.addApproleRole({ mount_point: approle, role_name: 'r', policies: 'default' });
        const roleId = (await v.getApproleRoleId({ mount_point: approle, role_name: 'r' })).data.role_id;
        const secret = (await v.getApproleRoleSecret({ mount_point: approle, role_name: 'r' })).data;
        const userpass = await enable(s, 'userpass');
        await v.write(`auth/${userpass}/users/dave`, { password: 'pw', token_policies: 'default' });
        return { approle, roleId, secret, userpass };
    };
    await sameAnswers({
        'read role': (s, p) => vault(s).getApproleRole({ mount_point: p.approle, role_name: 'r' }),
        'role id': (s, p) => vault(s).getApproleRoleId({ mount_point: p.approle, role_name: 'r' }),
        'secret id': (s, p) => vault(s).getApproleRoleSecret({ mount_point: p.approle, role_name: 'r' }),
        'secret id lookup': (s, p) => vault(s).approleSecretLookup({
            mount_point: p.approle, role_name: 'r', secret_id: p.secret.secret_id,
        }),
        'secret id accessors': (s, p) => vault(s).approleSecretAccessors({ mount_point: p.approle, role_name: 'r' }),
        'approle login': (s, p) => vault(s, null).approleLogin({
            mount_point: p.approle, role_id: p.roleId, secret_id: p.secret.secret_id,
        }),
        'approle bad login': (s, p) => vault(s, null).approleLogin({ mount_point: p.approle, role_id: p.roleId, secret_id: 'x' }),
        'missing role': (s, p) => vault(s).getApproleRole({ mount_point: p.approle, role_name: unique('none') }),
        'userpass login': (s, p) => vault(s, null).userpassLogin({ mount_point: p.userpass, username: 'dave', password: 'pw' }),
        'userpass bad login': (s, p) => vault(s, null).userpassLogin({ mount_point: p.userpass, username: 'dave', password: 'x' }),
    }, { setup });
});
