#!/usr/bin/env python3
"""10,000 database leases that all expire within one minute (issue 4's expiry target).

  benchmarks/expiry_burst.py http://127.0.0.1:18300 root [--n 10000] [--spread 60] [--margin 30]

Uses the bench harness's database connection (`../shared/bench/bench.py`: connection `bench`,
database `bench_anchor`) with a role `burst` that only creates a login role: the harness's `ro`
also GRANTs on one table, and PostgreSQL cannot hold more than ~2,400 grantees on one table
("row is too big: size 8168, maximum size 8160"), so 10,000 live `ro` credentials are impossible.
Credentials are created at concurrency 8, each with a `ttl` that makes it expire at a planned
instant: the estimated end of creation plus --margin, plus its share of --spread (0 = all in the
same second). A poller then watches pg_roles every 100 ms; lag = time the role vanished - its
lease's expiry.
"""
import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
import bench  # noqa: E402
from bench import batch, pct  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("token")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--rate-guess", type=float, default=70.0, help="credentials/s, sets the instant")
    ap.add_argument("--margin", type=float, default=30.0)
    ap.add_argument("--spread", type=float, default=60.0, help="seconds the expiries spread over")
    args = ap.parse_args()
    bench.CFG = argparse.Namespace(
        addr=args.addr, token=args.token, revocation="default",
        pg_dsn=os.environ.get("PG_DSN", "postgresql://postgres@127.0.0.1:5432/bench_anchor"))
    bench.configure_database()
    bench.client().call("POST", "database/roles/burst", {
        "db_name": "bench", "default_ttl": "1h", "max_ttl": "24h", "revocation_statements": [],
        "creation_statements": "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
                               "VALID UNTIL '{{expiration}}';"})
    due_at = time.time() + args.n / args.rate_guess + args.margin
    expected, lock = {}, threading.Lock()

    def create(i):
        target = due_at + args.spread * i / args.n
        ttl = max(1, int(round(target - time.time())))
        resp = bench.client().call("GET", f"database/creds/burst?ttl={ttl}s")
        user = resp["data"]["username"]
        with lock:
            expected[user] = time.time() + resp["lease_duration"]

    wall, _, _, errs = batch(args.n, 8, create)
    print(f"created {len(expected)} in {wall:.1f} s ({len(errs)} errors); "
          f"{due_at - time.time():.1f} s before the common expiry; first errors: {errs[:2]}", flush=True)
    if time.time() > due_at:
        sys.exit("creation took longer than planned: raise --margin or lower --rate-guess")
    spread = max(expected.values()) - min(expected.values())
    pending, gone = set(expected), {}
    with bench.pg() as conn:
        deadline = due_at + args.spread + 300
        while pending and time.time() < deadline:
            alive = bench.existing_roles(conn, list(pending))
            now = time.time()
            for u in list(pending):
                if u not in alive:
                    gone[u] = now
                    pending.discard(u)
            time.sleep(0.1)
    lags = [gone[u] - expected[u] for u in gone]
    early = sum(1 for x in lags if x < -1.0)
    print(f"leases: {len(expected)}, expiries spread over {spread:.1f} s")
    print(f"lag p50 {pct(lags, 50):.3f} s  p99 {pct(lags, 99):.3f} s  max {max(lags):.3f} s")
    print(f"all gone {max(gone.values()) - max(expected.values()):.2f} s after the last expiry; "
          f"not dropped: {len(pending)}; gone >1 s early: {early}")


if __name__ == "__main__":
    main()
