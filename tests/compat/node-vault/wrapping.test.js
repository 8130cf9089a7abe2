'use strict';
// Response wrapping through node-vault: a wrap TTL header on any call, and unwrap (with the token
// as a parameter, and with the wrapping token as the client token).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { SERVERS, vault, failure, sameAnswers, mountKv } = require('./helpers');

const wrapped = (ttl) => ({ headers: { 'X-Vault-Wrap-TTL': ttl } });

for (const server of SERVERS) {
    test(`wrapped token create and unwrap [${server.name}]`, async () => {
        const answer = await vault(server).write('auth/token/create', { policies: ['default'], ttl: '1h' }, wrapped('60s'));
        assert.equal(answer.auth, null);
        assert.equal(answer.wrap_info.ttl, 60);
        assert.equal(answer.wrap_info.creation_path, 'auth/token/create');
        const unwrapped = await vault(server).unwrap({ token: answer.wrap_info.token });
        assert.deepEqual(unwrapped.auth.policies, ['default']);
        const token = unwrapped.auth.client_token;
        assert.equal((await vault(server, token).tokenLookupSelf()).data.id, token);
        assert.equal((await failure(vault(server).unwrap({ token: answer.wrap_info.token }))).status, 400);
    });

    test(`wrapped kv read, unwrapped with the wrapping token as client token [${server.name}]`, async () => {
        const mount = await mountKv(server, 2);
        await vault(server).write(`${mount}/data/w`, { data: { k: 'v' } });
        const answer = await vault(server).read(`${mount}/data/w`, wrapped('2m'));
        assert.equal(answer.data, null);
        assert.equal(answer.wrap_info.ttl, 120);
        const unwrapped = await vault(server, answer.wrap_info.token).unwrap();
        assert.deepEqual(unwrapped.data.data, { k: 'v' });
        await vault(server).unmount({ mount_point: mount });
    });

    test(`sys/wrapping/wrap and unwrap [${server.name}]`, async () => {
        const answer = await vault(server).write('sys/wrapping/wrap', { a: 'b', n: 1 }, wrapped('90s'));
        assert.equal(answer.wrap_info.ttl, 90);
        assert.equal(answer.wrap_info.creation_path, 'sys/wrapping/wrap');
        assert.deepEqual((await vault(server).unwrap({ token: answer.wrap_info.token })).data, { a: 'b', n: 1 });
    });
}

test('wrapping answers match OpenBao', async () => {
    await sameAnswers({
        wrap: (s) => vault(s).write('sys/wrapping/wrap', { a: 'b' }, wrapped('60s')),
        'wrapped token create': (s) => vault(s).write('auth/token/create', { policies: ['default'] }, wrapped('60s')),
        unwrap: (s, token) => vault(s).unwrap({ token }),
        'unwrap unknown': (s) => vault(s).unwrap({ token: 's.nosuchwrappingtoken' }),
        'wrapping lookup': (s, token) => vault(s).write('sys/wrapping/lookup', { token }),
    }, {
        setup: async (s) => (await vault(s).write('sys/wrapping/wrap', { a: 'b' }, wrapped('60s'))).wrap_info.token,
    });
});
