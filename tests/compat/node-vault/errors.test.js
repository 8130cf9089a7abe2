'use strict';
// Each error class a node-vault user handles: ApiResponseError with the status code, the first
// error message, and the same answer from OpenBao.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { SERVERS, vault, unique, failure, sameAnswers, mountKv } = require('./helpers');

const LIMITED = 'path "secret/data/allowed/*" {\n  capabilities = ["read"]\n}\n';

/** A client whose token may only read secret/data/allowed/*. */
async function limited(server) {
    const name = unique('limited');
    await vault(server).addPolicy({ name, rules: LIMITED });
    const token = (await vault(server).tokenCreate({ policies: [name], ttl: '1h' })).auth.client_token;
    return vault(server, token);
}

for (const server of SERVERS) {
    test(`400 [${server.name}]`, async () => {
        const got = await failure(vault(server).tokenCreate({ ttl: 'not-a-duration' }));
        assert.equal(got.status, 400);
        assert.ok(got.body.errors.length > 0);
    });

    test(`403 [${server.name}]`, async () => {
        const denied = await failure((await limited(server)).read('secret/data/denied/x'));
        assert.equal(denied.status, 403);
        assert.match(denied.body.errors[0], /permission denied/);
        const unknown = await failure(vault(server, 's.nosuchtoken').policies());
        assert.equal(unknown.status, 403);
        assert.equal(unknown.body.errors[0], 'permission denied');
    });

    test(`404 [${server.name}]`, async () => {
        const missing = await failure(vault(server).read(`secret/data/${unique('absent')}`));
        assert.equal(missing.status, 404);
        assert.deepEqual(missing.body, { errors: [] });
        assert.equal((await failure(vault(server).read(`${unique('nomount')}/x`))).status, 404);
    });

    test(`405 [${server.name}]`, async () => {
        const mount = await mountKv(server, 2);
        const got = await failure(vault(server).delete(`${mount}/config`));
        assert.equal(got.status, 405);
        await vault(server).unmount({ mount_point: mount });
    });

    test(`the error message is the first of errors [${server.name}]`, async () => {
        try {
            await vault(server).read(`secret/data/${unique('absent')}`);
            assert.fail('read of a missing secret succeeded');
        } catch (e) {
            assert.equal(e.constructor.name, 'ApiResponseError');
            assert.equal(e.message, 'Status 404');
            assert.equal(e.response.statusCode, 404);
        }
    });
}

test('error answers match OpenBao', async () => {
    await sameAnswers({
        '400 bad ttl': (s) => vault(s).tokenCreate({ ttl: 'not-a-duration' }),
        '400 cas mismatch': (s, p) => vault(s).write(`${p.mount}/data/x`, { options: { cas: 3 }, data: { a: 1 } }),
        '400 bad policy': (s) => vault(s).addPolicy({ name: unique('p'), rules: 'path {' }),
        '403 denied path': (s, p) => p.limited.read('secret/data/denied/x'),
        '403 denied sys': (s, p) => p.limited.mounts(),
        '403 unknown token': (s) => vault(s, 's.nosuch').policies(),
        '404 missing secret': (s, p) => vault(s).read(`${p.mount}/data/absent`),
        '404 unmounted': (s) => vault(s).read(`${unique('nomount')}/x`),
        '405 delete config': (s, p) => vault(s).delete(`${p.mount}/config`),
        '405 list data': (s, p) => vault(s).list(`${p.mount}/data/x`),
    }, { setup: async (s) => ({ mount: await mountKv(s, 2), limited: await limited(s) }) });
});
