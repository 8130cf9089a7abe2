'use strict';
// KV v1 and v2 through node-vault's generic read/write/list/delete/update and destroySecretVersions.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { SERVERS, vault, unique, failure, sameAnswers, mountKv } = require('./helpers');

for (const server of SERVERS) {
    test(`kv v1 write, read, list, delete [${server.name}]`, async () => {
        const v = vault(server);
        const mount = await mountKv(server, 1);
        await v.write(`${mount}/app/db`, { user: 'svc', port: 5432 });
        await v.write(`${mount}/app/cache`, { url: 'redis://x' });
        const read = await v.read(`${mount}/app/db`);
        assert.deepEqual(read.data, { user: 'svc', port: 5432 });
        assert.deepEqual((await v.list(`${mount}/app`)).data.keys.sort(), ['cache', 'db']);
        await v.delete(`${mount}/app/db`);
        assert.equal((await failure(v.read(`${mount}/app/db`))).status, 404);
        await v.unmount({ mount_point: mount });
    });

    test(`kv v2 versions, metadata and list [${server.name}]`, async () => {
        const v = vault(server);
        const mount = await mountKv(server, 2);
        const first = await v.write(`${mount}/data/app/api`, { data: { key: 'one' } });
        assert.equal(first.data.version, 1);
        await v.write(`${mount}/data/app/api`, { data: { key: 'two' } });
        const latest = await v.read(`${mount}/data/app/api`);
        assert.deepEqual(latest.data.data, { key: 'two' });
        assert.equal(latest.data.metadata.version, 2);
        const old = await v.read(`${mount}/data/app/api?version=1`);
        assert.deepEqual(old.data.data, { key: 'one' });

        const meta = await v.read(`${mount}/metadata/app/api`);
        assert.equal(meta.data.current_version, 2);
        assert.deepEqual(Object.keys(meta.data.versions).sort(), ['1', '2']);
        assert.deepEqual((await v.list(`${mount}/metadata/app`)).data.keys, ['api']);
        await v.unmount({ mount_point: mount });
    });

    test(`kv v2 check-and-set [${server.name}]`, async () => {
        const v = vault(server);
        const mount = await mountKv(server, 2);
        await v.write(`${mount}/data/cas`, { options: { cas: 0 }, data: { v: 1 } });
        assert.equal((await failure(v.write(`${mount}/data/cas`, { options: { cas: 0 }, data: { v: 2 } }))).status, 400);
        const ok = await v.write(`${mount}/data/cas`, { options: { cas: 1 }, data: { v: 2 } });
        assert.equal(ok.data.version, 2);
        await v.unmount({ mount_point: mount });
    });

    test(`kv v2 patch through update (merge-patch) [${server.name}]`, async () => {
        const v = vault(server);
        const mount = await mountKv(server, 2);
        await v.write(`${mount}/data/p`, { data: { a: '1', b: '2' } });
        const patched = await v.update(`${mount}/data/p`, { data: { b: '3', c: '4' } });
        assert.equal(patched.data.version, 2);
        assert.deepEqual((await v.read(`${mount}/data/p`)).data.data, { a: '1', b: '3', c: '4' });
        await v.unmount({ mount_point: mount });
    });

    test(`kv v2 delete, undelete, destroySecretVersions, delete metadata [${server.name}]`, async () => {
        const v = vault(server);
        const mount = await mountKv(server, 2);
        for (const n of [1, 2, 3]) await v.write(`${mount}/data/d`, { data: { n } });

        await v.delete(`${mount}/data/d`);
        const deleted = await failure(v.read(`${mount}/data/d`));
        assert.equal(deleted.status, 404);
        assert.notEqual(deleted.body.data.metadata.deletion_time, '');
        await v.write(`${mount}/undelete/d`, { versions: [3] });
        assert.deepEqual((await v.read(`${mount}/data/d`)).data.data, { n: 3 });

        await v.write(`${mount}/delete/d`, { versions: [1] });
        await v.destroySecretVersions({ mount_point: mount, path: 'd', versions: [2] });
        const meta = (await v.read(`${mount}/metadata/d`)).data;
        assert.notEqual(meta.versions['1'].deletion_time, '');
        assert.equal(meta.versions['2'].destroyed, true);
        assert.equal(meta.versions['3'].destroyed, false);

        await v.delete(`${mount}/metadata/d`);
        assert.equal((await failure(v.read(`${mount}/metadata/d`))).status, 404);
        await v.unmount({ mount_point: mount });
    });
}

test('kv answers match OpenBao', async () => {
    await sameAnswers({
        'v2 write': (s, m) => vault(s).write(`${m}/data/x`, { data: { k: 'v' } }),
        'v2 read': (s, m) => vault(s).read(`${m}/data/s`),
        'v2 read missing': (s, m) => vault(s).read(`${m}/data/${unique('none')}`),
        'v2 read deleted version': (s, m) => vault(s).read(`${m}/data/s?version=1`),
        'v2 metadata': (s, m) => vault(s).read(`${m}/metadata/s`),
        'v2 list': (s, m) => vault(s).list(`${m}/metadata`),
        'v2 patch': (s, m) => vault(s).update(`${m}/data/s`, { data: { more: 'x' } }),
        'v2 patch missing': (s, m) => vault(s).update(`${m}/data/${unique('none')}`, { data: { a: 'b' } }),
        'v2 destroy': (s, m) => vault(s).destroySecretVersions({ mount_point: m, path: 's', versions: [1] }),
        'v2 config': (s, m) => vault(s).read(`${m}/config`),
    }, {
        setup: async (s) => {
            const m = await mountKv(s, 2);
            await vault(s).write(`${m}/data/s`, { data: { k: 'v' } });
            await vault(s).write(`${m}/delete/s`, { versions: [1] });
            await vault(s).write(`${m}/data/s`, { data: { k: 'w' } });
            return m;
        },
    });
});
