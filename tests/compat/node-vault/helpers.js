'use strict';
// Helpers of the node-vault compatibility suite. The runner (crates/secrethub/tests/it/compat_clients.rs,
// or a developer by hand) starts `secrethub server -dev` and `bao server -dev` and sets
// SECRETHUB_ADDR, SECRETHUB_TOKEN, BAO_ADDR, BAO_TOKEN and optionally PG_URL (an admin URL of the
// machine's PostgreSQL, trust auth). Every test runs against both servers: one that fails only for
// [secrethub] found a difference from OpenBao, one that fails for [bao] too is wrong itself.
// Everything a test creates has a unique name, so the suite runs twice in a row and in parallel.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const nodeVault = require('node-vault');

function env(name) {
    const value = process.env[name];
    if (!value) {
        throw new Error(`${name} is not set: run this suite through \`cargo test -p secrethub --test it `
            + 'compat_clients` (scripts/test), or start the dev servers yourself and set SECRETHUB_ADDR, '
            + 'SECRETHUB_TOKEN, BAO_ADDR and BAO_TOKEN');
    }
    return value;
}

const SERVERS = [
    { name: 'secrethub', addr: env('SECRETHUB_ADDR'), token: env('SECRETHUB_TOKEN') },
    { name: 'bao', addr: env('BAO_ADDR'), token: env('BAO_TOKEN') },
];
const [SECRETHUB, BAO] = SERVERS;

/** A node-vault client of `server` presenting `token` (the root token when not given; none when null). */
function vault(server, token) {
    const client = nodeVault({
        endpoint: server.addr,
        token: token === undefined ? server.token : undefined,
        rpDefaults: { timeout: 30000 },
    });
    // node-vault falls back to VAULT_TOKEN; an anonymous client must stay anonymous.
    client.token = token === undefined ? server.token : (token || undefined);
    return client;
}

let counter = 0;
/** A name no other test, process or earlier run uses: lowercase, a valid SQL identifier. */
function unique(prefix) {
    counter += 1;
    return `${prefix}_${process.pid}_${Date.now()}_${counter}`;
}

/** What a node-vault call produced: `{ status, body }`, `status` 'ok' for any success. */
async function outcome(promise) {
    try {
        return { status: 'ok', body: await promise };
    } catch (e) {
        if (!e.response) throw e;
        return { status: e.response.statusCode, body: e.response.body };
    }
}

/** Awaits a call that must fail; returns its status code and body. */
async function failure(promise) {
    const got = await outcome(promise);
    assert.notEqual(got.status, 'ok', `expected an error, got ${JSON.stringify(got.body)}`);
    return got;
}

// Keys of OpenBao-only features (HashiCorp Vault has none of them) that SecretHub does not claim.
const OPENBAO_ONLY_KEYS = new Set(['token_strictly_bind_ip', 'metadata_cas_required', 'current_metadata_version']);

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * How SecretHub's outcome falls short of OpenBao's: another status, or a top-level or `data` key
 * OpenBao sends that SecretHub does not. Values are never compared (ids and timestamps differ by
 * nature); SecretHub may send more keys (it follows HashiCorp Vault where OpenBao dropped a field).
 */
function differences(ours, theirs, ignore = []) {
    const found = [];
    if (ours.status !== theirs.status) found.push(`status ${ours.status} where OpenBao answers ${theirs.status}`);
    const pairs = [
        ['top-level', ours.body, theirs.body],
        ['data', isObject(ours.body) ? ours.body.data : undefined, isObject(theirs.body) ? theirs.body.data : undefined],
    ];
    for (const [where, x, y] of pairs) {
        if (!isObject(y)) continue;
        if (!isObject(x)) {
            found.push(`${where} is ${JSON.stringify(x)} where OpenBao sends an object`);
            continue;
        }
        const missing = Object.keys(y).filter((k) => !(k in x) && !OPENBAO_ONLY_KEYS.has(k) && !ignore.includes(k));
        if (missing.length) found.push(`${where} lacks ${JSON.stringify(missing.sort())}`);
    }
    return found;
}

/**
 * Runs `call(server, prepared)` against both servers, `prepared` being what `setup(server)`
 * returned there, and asserts SecretHub answers like OpenBao. Returns both outcomes.
 */
async function sameAnswer(call, { setup, ignore } = {}) {
    const run = async (server) => {
        const prepared = setup ? await setup(server) : undefined;
        return outcome(call(server, prepared));
    };
    const ours = await run(SECRETHUB);
    const theirs = await run(BAO);
    const found = differences(ours, theirs, ignore);
    if (found.length) {
        assert.fail(`SecretHub answers differently from OpenBao: ${found.join('; ')}\n`
            + `  SecretHub: ${JSON.stringify(ours)}\n  OpenBao:   ${JSON.stringify(theirs)}`);
    }
    return { ours, theirs };
}

/** `sameAnswer` for each named call, reporting every difference at once. */
async function sameAnswers(calls, options = {}) {
    const problems = [];
    for (const [name, call] of Object.entries(calls)) {
        try {
            await sameAnswer(call, options);
        } catch (e) {
            if (!(e instanceof assert.AssertionError)) throw e;
            problems.push(`${name}: ${e.message}`);
        }
    }
    if (problems.length) assert.fail(problems.join('\n'));
}

/** Mounts a KV engine at a unique path through node-vault's `mount`; returns the path. */
async function mountKv(server, version) {
    const path = unique('kv');
    await vault(server).mount({ mount_point: path, type: 'kv', options: { version: String(version) } });
    return path;
}

const PG_URL = process.env.PG_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Runs one SQL statement as the PostgreSQL admin; returns its unaligned output. */
function psql(sql) {
    return execFileSync('psql', ['-w', '-X', '-v', 'ON_ERROR_STOP=1', '-tA', '-d', PG_URL, '-c', sql], {
        encoding: 'utf8',
        timeout: 60000,
    }).trim();
}

module.exports = {
    SERVERS, SECRETHUB, BAO, vault, unique, outcome, failure, sameAnswer, sameAnswers, mountKv, psql, PG_URL,
};
