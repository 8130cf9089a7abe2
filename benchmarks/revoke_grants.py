#!/usr/bin/env python3
"""What a revocation costs depending on how the credentials get their privileges.

  benchmarks/revoke_grants.py http://127.0.0.1:18300 root [--n 1000]

The bench harness's role `ro` GRANTs SELECT on a table to every credential. PostgreSQL keeps
those grants in the table's `pg_class.relacl` array, and every GRANT or REVOKE (so every
`DROP OWNED`) rewrites and recompresses that whole array, so each revocation costs more the more
credentials are alive. This script measures two roles side by side on the harness's connection
`bench` (database `bench_anchor`):

  table  CREATE ROLE ... ; GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}"  (= `ro`)
  group  CREATE ROLE ... IN ROLE bench_readers   (bench_readers holds the SELECT grant)

For each, --n credentials are created through the API, then revoked one at a time through
`sys/leases/revoke` (the server's default revocation), interleaved with the minimal
`DROP OWNED` + `DROP ROLE` of as many roles made the same way straight in PostgreSQL (the
harness's `raw_sql_min_drop`), so both sides see the same catalog and machine load.
"""
import argparse
import os
import sys

from psycopg import sql

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
import bench  # noqa: E402
from bench import pct  # noqa: E402

GROUP = "bench_readers"
LOGIN = "CREATE ROLE {} WITH LOGIN PASSWORD 'unused' VALID UNTIL '2100-01-01'"
STYLES = {
    "table": (bench.CREATION_SQL, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}"),
    "group": ([f"CREATE ROLE \"{{{{name}}}}\" WITH LOGIN PASSWORD '{{{{password}}}}' "
               f"VALID UNTIL '{{{{expiration}}}}' IN ROLE {GROUP};"], f"GRANT {GROUP} TO {{}}"),
}


def ensure_group(conn):
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (GROUP,)).fetchone():
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(GROUP)))
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(
        sql.Identifier(GROUP)))


def raw_roles(conn, n, grant):
    names = bench.raw_names(n, "grants")
    for name in names:
        ident = sql.Identifier(name)
        with conn.transaction():
            conn.execute(sql.SQL(LOGIN).format(ident))
            conn.execute(sql.SQL(grant).format(ident))
    return names


def measure(conn, style, n):
    creation, grant = STYLES[style]
    role = f"grants_{style}"
    bench.client().call("POST", f"database/roles/{role}", {
        "db_name": "bench", "creation_statements": creation, "revocation_statements": [],
        "default_ttl": "1h", "max_ttl": "24h"})
    ids = [bench.new_creds(role)[0] for _ in range(n)]
    raw = raw_roles(conn, n, grant)
    srv, rawl, errs = bench.interleaved(
        n, lambda i: bench.client().call("PUT", "sys/leases/revoke", {"lease_id": ids[i]}),
        lambda i: bench.drop_role(conn, raw[i]))
    if errs:
        sys.exit(f"{style}: {len(errs)} errors, first: {errs[0]}")
    return srv, rawl


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("token")
    ap.add_argument("--n", type=int, default=1000,
                    help="credentials per style; 'table' holds 2n grantees (PostgreSQL's cap ~2,400)")
    args = ap.parse_args()
    bench.CFG = argparse.Namespace(
        addr=args.addr, token=args.token, revocation="default",
        pg_dsn=os.environ.get("PG_DSN", "postgresql://postgres@127.0.0.1:5432/bench_anchor"))
    bench.configure_database()
    with bench.pg() as conn:
        ensure_group(conn)
        print(f"{'privileges via':<16}{'revoke p50':>12}{'p99':>8}{'raw drop p50':>14}{'p99':>8}  (ms, n={args.n})")
        for style in STYLES:
            srv, raw = measure(conn, style, args.n)
            print(f"{style:<16}{pct(srv, 50) * 1e3:>12.2f}{pct(srv, 99) * 1e3:>8.2f}"
                  f"{pct(raw, 50) * 1e3:>14.2f}{pct(raw, 99) * 1e3:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
