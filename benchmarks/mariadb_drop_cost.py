#!/usr/bin/env python3
"""MariaDB's own cost of dropping users, straight through pymysql as root (no SecretHub):

  benchmarks/mariadb_drop_cost.py session-lookup     # 300 + 300 users
  benchmarks/mariadb_drop_cost.py many [N]           # N users (default 10,000)
  benchmarks/mariadb_drop_cost.py create-text        # 300 + 300 users

session-lookup: a plain `DROP USER` against SecretHub's default revocation text (`DROP USER IF
EXISTS` + `SELECT ID FROM information_schema.PROCESSLIST WHERE USER IN (…)`, one multi-statement
round trip), interleaved, on users made like db_mysql_redis.py's role (CREATE USER + GRANT SELECT
ON shbench.*). many: make N such users (4 connections), then drop them 50 per `DROP USER` (as
SecretHub's expiry batches them), timing each batch against the number of accounts still there.
create-text: the raw creation of db_mysql_redis.py (`CREATE USER`, then `GRANT`: two round trips)
against the text SecretHub's MySQL plugin sends (`START TRANSACTION; CREATE USER …; GRANT …; COMMIT`
in one multi-statement round trip), interleaved; the users are dropped afterwards.
User names shb_mdb*_<random>_<i>; every one is dropped before the script ends.
"""
import secrets
import sys
import threading
import time

import pymysql
from pymysql.constants import CLIENT


def conn():
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True,
                           client_flag=CLIENT.MULTI_STATEMENTS)


def make(cur, name):
    cur.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY 'Pw-{secrets.token_hex(8)}'")
    cur.execute(f"GRANT SELECT ON shbench.* TO '{name}'@'%'")


def p(xs, q):
    xs = sorted(xs)
    return xs[int((len(xs) - 1) * q)] * 1000


def session_lookup(n=300):
    run = secrets.token_hex(2)
    c = conn().cursor()
    a, b = [], []
    for i in range(n):
        n1, n2 = f"shb_mdbp_{run}_a{i}", f"shb_mdbp_{run}_b{i}"
        make(c, n1)
        make(c, n2)
        t = time.perf_counter()
        c.execute(f"DROP USER '{n1}'@'%'")
        a.append(time.perf_counter() - t)
        t = time.perf_counter()
        c.execute(f"DROP USER IF EXISTS '{n2}'@'%';\n"
                  f"SELECT ID FROM information_schema.PROCESSLIST WHERE USER IN ('{n2}')")
        while c.nextset():
            pass
        b.append(time.perf_counter() - t)
    print(f"DROP USER:                         p50 {p(a, .5):.2f} ms  p99 {p(a, .99):.2f} ms")
    print(f"DROP USER IF EXISTS + PROCESSLIST: p50 {p(b, .5):.2f} ms  p99 {p(b, .99):.2f} ms  "
          f"ratio p50 {p(b, .5) / p(a, .5):.2f} p99 {p(b, .99) / p(a, .99):.2f}")


def many(n):
    run = secrets.token_hex(2)
    names = [f"shb_mdbx_{run}_{i}" for i in range(n)]

    def part(ns):
        cur = conn().cursor()
        for x in ns:
            make(cur, x)
    t = time.time()
    ts = [threading.Thread(target=part, args=(names[k::4],)) for k in range(4)]
    for x in ts:
        x.start()
    for x in ts:
        x.join()
    print(f"created {n} in {time.time() - t:.1f} s", flush=True)
    c = conn().cursor()
    single = []
    for x in names[:20]:
        t0 = time.perf_counter()
        c.execute(f"DROP USER '{x}'@'%'")
        single.append(time.perf_counter() - t0)
    print(f"single DROP USER with ~{n} users: p50 {p(single, .5):.1f} ms", flush=True)
    rest, out = names[20:], []
    t = time.time()
    for i in range(0, len(rest), 50):
        t0 = time.perf_counter()
        c.execute("DROP USER " + ", ".join(f"'{x}'@'%'" for x in rest[i:i + 50]))
        out.append((len(rest) - i, time.perf_counter() - t0))
    tot = time.time() - t
    print(f"dropped {len(rest)} in batches of 50 in {tot:.1f} s = {len(rest) / tot:.0f} users/s")
    for left, d in out[::20]:
        print(f"  {left:6} users present: batch of 50 took {d * 1000:.0f} ms ({50 / d:.0f} users/s)")
    single = []
    for i in range(20):
        x = f"shb_mdbx_{run}_s{i}"
        make(c, x)
        t0 = time.perf_counter()
        c.execute(f"DROP USER '{x}'@'%'")
        single.append(time.perf_counter() - t0)
    print(f"single DROP USER with few users: p50 {p(single, .5):.1f} ms")


def create_text(n=300):
    run = secrets.token_hex(2)
    c = conn().cursor()
    a, b, names = [], [], []
    for i in range(n):
        n1, n2 = f"shb_mdbc_{run}_a{i}", f"shb_mdbc_{run}_b{i}"
        names += [n1, n2]
        t = time.perf_counter()
        make(c, n1)
        a.append(time.perf_counter() - t)
        t = time.perf_counter()
        c.execute(f"START TRANSACTION;\nCREATE USER '{n2}'@'%' IDENTIFIED BY 'Pw-{secrets.token_hex(8)}';"
                  f"GRANT SELECT ON shbench.* TO '{n2}'@'%';COMMIT")
        while c.nextset():
            pass
        b.append(time.perf_counter() - t)
    for i in range(0, len(names), 50):
        c.execute("DROP USER " + ", ".join(f"'{x}'@'%'" for x in names[i:i + 50]))
    print(f"CREATE USER, GRANT (2 round trips):        p50 {p(a, .5):.2f} ms  p99 {p(a, .99):.2f} ms")
    print(f"START TRANSACTION; CREATE; GRANT; COMMIT:  p50 {p(b, .5):.2f} ms  p99 {p(b, .99):.2f} ms  "
          f"ratio p50 {p(b, .5) / p(a, .5):.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["session-lookup"]:
        session_lookup()
    elif sys.argv[1:2] == ["create-text"]:
        create_text()
    elif sys.argv[1:2] == ["many"]:
        many(int(sys.argv[2]) if len(sys.argv) > 2 else 10000)
    else:
        sys.exit(__doc__)
