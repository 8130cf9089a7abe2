'use strict';
// Token calls through node-vault: create (and orphan, and by role), lookup (by token, self,
// accessor), renew (by token, self), revoke (by token, self, accessor, orphan), accessors, roles.
// node-vault switches a client to the token a create or renew answers with ("tokenSource"), so
// each call below uses a fresh client.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { SERVERS, vault, unique, failure, sameAnswers } = require('./helpers');

/** A child token of the root token; returns the `auth` block. */
async function child(server, args = {}) {
    return (await vault(server).tokenCreate({ policies: ['default'], ttl: '1h', ...args })).auth;
}

for (const server of SERVERS) {
    test(`create and look up tokens [${server.name}]`, async () => {
        const name = unique('app');
        const creator = vault(server);
        const auth = (await creator.tokenCreate({
            policies: ['default'], ttl: '1h', display_name: name, meta: { team: 'billing' },
        })).auth;
        assert.equal(creator.token, auth.client_token, 'node-vault adopts the created token');
        assert.deepEqual(auth.policies, ['default']);
        assert.equal(auth.lease_duration, 3600);
        assert.equal(auth.renewable, true);

        const looked = (await vault(server).tokenLookup({ token: auth.client_token })).data;
        assert.equal(looked.id, auth.client_token);
        assert.equal(looked.accessor, auth.accessor);
        assert.equal(looked.display_name, `token-${name.replace(/_/g, '-')}`);
        assert.deepEqual(looked.meta, { team: 'billing' });
        assert.ok(looked.ttl > 3500 && looked.ttl <= 3600);

        const own = (await vault(server, auth.client_token).tokenLookupSelf()).data;
        assert.equal(own.id, auth.client_token);
        const byAccessor = (await vault(server).tokenLookupAccessor({ accessor: auth.accessor })).data;
        assert.equal(byAccessor.id, '');
        assert.deepEqual(byAccessor.policies, ['default']);
        assert.ok((await vault(server).tokenAccessors()).data.keys.includes(auth.accessor));
    });

    test(`orphan tokens [${server.name}]`, async () => {
        const auth = (await vault(server).tokenCreateOrphan({ policies: ['default'], ttl: '1h' })).auth;
        assert.equal((await vault(server).tokenLookup({ token: auth.client_token })).data.orphan, true);
    });

    test(`renew by token and self [${server.name}]`, async () => {
        const auth = await child(server, { ttl: '10m' });
        const renewed = (await vault(server).tokenRenew({ token: auth.client_token, increment: '20m' })).auth;
        assert.equal(renewed.lease_duration, 1200);
        const self = (await vault(server, auth.client_token).tokenRenewSelf({ increment: '30m' })).auth;
        assert.equal(self.lease_duration, 1800);
    });

    test(`revoke by token, self, accessor and orphan [${server.name}]`, async () => {
        const gone = async (token) => (await failure(vault(server, token).tokenLookupSelf())).status;

        const a = await child(server);
        await vault(server).tokenRevoke({ token: a.client_token });
        assert.equal(await gone(a.client_token), 403);

        const b = await child(server);
        await vault(server, b.client_token).tokenRevokeSelf();
        assert.equal(await gone(b.client_token), 403);

        const parent = await child(server, { policies: ['root'] });
        const grandchild = (await vault(server, parent.client_token).tokenCreate({ policies: ['default'] })).auth;
        await vault(server).tokenRevokeAccessor({ accessor: parent.accessor });
        assert.equal(await gone(parent.client_token), 403);
        assert.equal(await gone(grandchild.client_token), 403);

        const p2 = await child(server, { policies: ['root'] });
        const kept = (await vault(server, p2.client_token).tokenCreate({ policies: ['default'] })).auth;
        await vault(server).tokenRevokeOrphan({ token: p2.client_token });
        assert.equal(await gone(p2.client_token), 403);
        const orphaned = (await vault(server, kept.client_token).tokenLookupSelf()).data;
        assert.equal(orphaned.orphan, true);
    });

    test(`lookup of a revoked token is 403 [${server.name}]`, async () => {
        const auth = await child(server);
        await vault(server).tokenRevoke({ token: auth.client_token });
        assert.equal((await failure(vault(server).tokenLookup({ token: auth.client_token }))).status, 403);
    });

    test(`token roles [${server.name}]`, async () => {
        const role = unique('role');
        const v = vault(server);
        await v.addTokenRole({ role_name: role, allowed_policies: 'default', orphan: true, period: 3600 });
        const read = (await v.getTokenRole({ role_name: role })).data;
        assert.deepEqual(read.allowed_policies, ['default']);
        assert.equal(read.orphan, true);
        assert.equal(read.token_period, 3600);
        assert.ok((await v.tokenRoles()).data.keys.includes(role));

        const auth = (await vault(server).tokenCreateRole({ role_name: role, policies: ['default'] })).auth;
        assert.equal(auth.orphan, true);
        assert.equal(auth.lease_duration, 3600);
        const looked = (await vault(server).tokenLookup({ token: auth.client_token })).data;
        assert.equal(looked.role, role);
        assert.ok(looked.ttl > 3500 && looked.ttl <= 3600);

        await v.removeTokenRole({ role_name: role });
        assert.equal((await failure(v.getTokenRole({ role_name: role }))).status, 404);
    });
}

test('token answers match OpenBao', async () => {
    await sameAnswers({
        create: (s) => vault(s).tokenCreate({ policies: ['default'] }),
        lookup: (s, a) => vault(s).tokenLookup({ token: a.client_token }),
        'lookup self': (s, a) => vault(s, a.client_token).tokenLookupSelf(),
        'lookup accessor': (s, a) => vault(s).tokenLookupAccessor({ accessor: a.accessor }),
        renew: (s, a) => vault(s).tokenRenew({ token: a.client_token }),
        'renew self': (s, a) => vault(s, a.client_token).tokenRenewSelf(),
        revoke: (s, a) => vault(s).tokenRevoke({ token: a.client_token }),
        'revoke accessor': (s, a) => vault(s).tokenRevokeAccessor({ accessor: a.accessor }),
        'revoke self': (s, a) => vault(s, a.client_token).tokenRevokeSelf(),
        accessors: (s) => vault(s).tokenAccessors(),
        'lookup unknown accessor': (s) => vault(s).tokenLookupAccessor({ accessor: 'no-such-accessor' }),
        'renew unknown token': (s) => vault(s).tokenRenew({ token: 's.nosuchtoken' }),
        'bad ttl': (s) => vault(s).tokenCreate({ ttl: 'not-a-duration' }),
        'unknown client token': (s) => vault(s, 's.nosuchtoken').tokenLookupSelf(),
    }, { setup: (s) => child(s, { meta: { k: 'v' } }) });
});

test('answers about revoked tokens match OpenBao', async () => {
    const revoked = async (s) => {
        const a = await child(s);
        await vault(s).tokenRevoke({ token: a.client_token });
        return a;
    };
    await sameAnswers({
        lookup: (s, a) => vault(s).tokenLookup({ token: a.client_token }),
        // Revocation is idempotent: revoking what is already gone succeeds.
        'revoke again': (s, a) => vault(s).tokenRevoke({ token: a.client_token }),
        'revoke accessor again': (s, a) => vault(s).tokenRevokeAccessor({ accessor: a.accessor }),
    }, { setup: revoked });
});

test('token role answers match OpenBao', async () => {
    await sameAnswers({
        read: (s, role) => vault(s).getTokenRole({ role_name: role }),
        list: (s) => vault(s).tokenRoles(),
        'create with role': (s, role) => vault(s).tokenCreateRole({ role_name: role }),
        'read missing': (s) => vault(s).getTokenRole({ role_name: unique('none') }),
    }, {
        setup: async (s) => {
            const role = unique('role');
            await vault(s).addTokenRole({ role_name: role, allowed_policies: 'default' });
            return role;
        },
    });
});
