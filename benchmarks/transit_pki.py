#!/usr/bin/env python3
"""Transit and PKI throughput (issue 16), OpenBao and SecretHub side by side in one run.

  benchmarks/transit_pki.py target/release/secrethub [--duration 10]

Starts `bao server -dev` (OpenBao 2.7.2, the venv of ../shared/bench/setup.sh or BAO=...) and
`secrethub server --dev` one after the other on the same ports as auth_login.py, configures the
same transit key and PKI role on each, and runs wrk (closed loop, POST):
  - transit/encrypt/bench with 1 KiB of plaintext at 32 connections, and transit/decrypt/bench
    of a ciphertext that server made;
  - pki/issue/bench with an EC P-256 key at 8 connections, and with RSA-2048 at 8 connections.
Server CPU per operation comes from /proc/PID/stat. Prints a table and writes JSON.
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from auth_login import BAO, call, cpu_seconds, wait_ready  # noqa: E402


def configure(addr):
    t = "root"
    call(addr, "POST", "sys/mounts/transit", t, {"type": "transit"})
    call(addr, "POST", "transit/keys/bench", t, {"type": "aes256-gcm96"})
    plaintext = base64.b64encode(os.urandom(1024)).decode()
    ct = call(addr, "POST", "transit/encrypt/bench", t, {"plaintext": plaintext})["data"]["ciphertext"]
    call(addr, "POST", "sys/mounts/pki", t, {"type": "pki", "config": {"max_lease_ttl": "87600h"}})
    call(addr, "POST", "pki/root/generate/internal", t,
         {"common_name": "bench root", "key_type": "ec", "ttl": "8760h"})
    for name, key_type, bits in [("bench-ec", "ec", 256), ("bench-rsa", "rsa", 2048)]:
        call(addr, "POST", f"pki/roles/{name}", t,
             {"allowed_domains": "example.com", "allow_subdomains": True, "key_type": key_type,
              "key_bits": bits, "ttl": "1h", "no_store": True})
    assert call(addr, "POST", "pki/issue/bench-ec", t, {"common_name": "a.example.com"})["data"]["certificate"]
    return [
        ("transit encrypt 1 KiB", 32, "/v1/transit/encrypt/bench", json.dumps({"plaintext": plaintext})),
        ("transit decrypt 1 KiB", 32, "/v1/transit/decrypt/bench", json.dumps({"ciphertext": ct})),
        ("pki issue EC P-256", 8, "/v1/pki/issue/bench-ec", json.dumps({"common_name": "a.example.com"})),
        ("pki issue RSA-2048", 8, "/v1/pki/issue/bench-rsa", json.dumps({"common_name": "a.example.com"})),
    ]


def wrk(addr, pid, path, body, conc, duration):
    env = dict(os.environ, POST_PATH=path, POST_BODY=body, POST_TOKEN="root")
    c0 = cpu_seconds(pid)
    out = subprocess.run(
        ["wrk", f"-t{min(2, conc)}", f"-c{conc}", f"-d{duration}s", "--latency",
         "-s", os.path.join(HERE, "post.lua"), addr],
        env=env, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - c0
    line = next(l for l in out.splitlines() if l.startswith("WRKJSON "))
    r = json.loads(line[len("WRKJSON "):])
    ok = r["requests"] - r["non200"] - r["errors"]
    secs = r["duration_us"] / 1e6
    return {"rate": ok / secs, "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
            "failed": r["non200"] + r["errors"], "cpu_us_per_op": cpu / max(ok, 1) * 1e6}


def run_target(name, cmd, addr, duration, logdir):
    log = open(os.path.join(logdir, f"{name}.log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(addr, proc)
        res = {}
        for what, conc, path, body in configure(addr):
            r = wrk(addr, proc.pid, path, body, conc, duration)
            res[what] = r
            print(f"  {name:9} {what:22} c={conc:<3} {r['rate']:9.1f}/s  p50 {r['p50_ms']:7.2f} ms  "
                  f"p99 {r['p99_ms']:7.2f} ms  cpu/op {r['cpu_us_per_op']:8.0f} us  failed {r['failed']}",
                  flush=True)
        return res
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("secrethub")
    ap.add_argument("--duration", type=int, default=10)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: run ../shared/bench/setup.sh")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    logdir = f"/tmp/transit-pki-bench-{stamp}"
    os.makedirs(logdir, exist_ok=True)
    print(f"load average at start: {os.getloadavg()}")
    results = {
        "openbao": run_target(
            "openbao", [BAO, "server", "-dev", "-dev-listen-address=127.0.0.1:18200",
                        "-dev-root-token-id=root"],
            "http://127.0.0.1:18200", args.duration, logdir),
        "secrethub": run_target(
            "secrethub", [os.path.abspath(args.secrethub), "server", "--dev",
                          "--dev-listen-address=127.0.0.1:18300", "--dev-root-token-id=root"],
            "http://127.0.0.1:18300", args.duration, logdir),
    }
    results["meta"] = {"stamp": stamp, "loadavg_end": os.getloadavg(), "duration": args.duration}
    print("\n| operation | OpenBao /s | SecretHub /s | ratio | CPU/op OpenBao | SecretHub | CPU ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key in results["openbao"]:
        o, s = results["openbao"][key], results["secrethub"][key]
        print(f"| {key} | {o['rate']:,.0f} | {s['rate']:,.0f} | {s['rate'] / o['rate']:.2f}x "
              f"| {o['cpu_us_per_op']:,.0f} us | {s['cpu_us_per_op']:,.0f} us "
              f"| {o['cpu_us_per_op'] / s['cpu_us_per_op']:.2f}x |")
    out = os.path.join(HERE, "results", f"transit-pki-{stamp}.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
