#!/usr/bin/env python3
"""Speed of `secrethub scan` (issue 17): a large working tree scanned end to end, and the
throughput of secrethub, detect-secrets and CredSweeper side by side on the same sample tree.

The tree is this repository's tracked text files (source, docs, configs: about 5 MB), copied
into numbered directories until it reaches --size-mib. The page cache is warmed first (every
file read once), so the figures are the scanners' and not the disk's. Each scanner runs
--runs times on the sample and the median counts.

    python3 benchmarks/scan_speed.py target/release/secrethub \
        --python ~/.cache/secrethub-scanbench/bin   # a venv with detect-secrets and credsweeper

Writes benchmarks/results/scan-speed-<UTC time>.json and prints a table.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def tracked_text_files():
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    files = []
    for rel in out.stdout.splitlines():
        if rel.startswith("benchmarks/results/"):
            continue
        path = REPO / rel
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8000]:
            continue
        files.append((rel, data))
    return files


def build_tree(root: Path, size_mib: int, files):
    """Copies of the repository's text files until the tree holds size_mib MiB."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    target = size_mib * 1024 * 1024
    total, copy = 0, 0
    while total < target:
        base = root / f"copy-{copy:04d}"
        for rel, data in files:
            dest = base / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            total += len(data)
            if total >= target:
                break
        copy += 1
    return total


def warm(root: Path):
    for dirpath, _, names in os.walk(root):
        for n in names:
            with open(os.path.join(dirpath, n), "rb") as f:
                while f.read(1 << 20):
                    pass


def timed(cmd, runs, cwd=None):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - start)
        if proc.returncode not in (0, 1):
            sys.exit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return statistics.median(times), times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("secrethub")
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--sample-mib", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--python", help="bin directory of a venv with detect-secrets and credsweeper")
    ap.add_argument("--work", default="/tmp/secrethub-scan-bench")
    args = ap.parse_args()
    secrethub = str(Path(args.secrethub).resolve())
    work = Path(args.work)
    files = tracked_text_files()
    results = {"cpus": os.cpu_count(), "load_before": os.getloadavg()}

    big = work / "big"
    size = build_tree(big, args.size_mib, files)
    warm(big)
    median, runs = timed([secrethub, "scan", "-format=json", str(big)], args.runs)
    results["big"] = {"bytes": size, "seconds": runs, "median_s": median, "mib_per_s": size / 1048576 / median}

    sample = work / "sample"
    size = build_tree(sample, args.sample_mib, files)
    warm(sample)
    tools = {"secrethub": [secrethub, "scan", "-format=json", str(sample)]}
    if args.python:
        bin_dir = Path(args.python).expanduser()
        tools["detect-secrets"] = [str(bin_dir / "detect-secrets"), "scan", "--all-files", str(sample)]
        tools["credsweeper"] = [str(bin_dir / "credsweeper"), "--path", str(sample), "--save-json", str(work / "cs.json")]
    results["sample"] = {"bytes": size, "tools": {}}
    for name, cmd in tools.items():
        median, runs = timed(cmd, args.runs if name == "secrethub" else 1, cwd=work)
        results["sample"]["tools"][name] = {"seconds": runs, "median_s": median, "mib_per_s": size / 1048576 / median}
    results["load_after"] = os.getloadavg()

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = REPO / "benchmarks" / "results" / f"scan-speed-{stamp}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    big = results["big"]
    print(f"big tree: {big['bytes'] / 1048576:.0f} MiB in {big['median_s']:.2f} s ({big['mib_per_s']:.0f} MiB/s), runs {['%.2f' % s for s in big['seconds']]}")
    base = results["sample"]["tools"]["secrethub"]["mib_per_s"]
    for name, r in results["sample"]["tools"].items():
        print(f"sample {results['sample']['bytes'] / 1048576:.0f} MiB, {name:15s} {r['median_s']:8.2f} s {r['mib_per_s']:8.1f} MiB/s  secrethub is {base / r['mib_per_s']:.1f}x")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
