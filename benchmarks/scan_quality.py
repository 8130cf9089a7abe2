#!/usr/bin/env python3
"""Precision and recall of `secrethub scan` beside detect-secrets and CredSweeper (issue 17).

Each labelled corpus item (benchmarks/scan_corpus/*.jsonl, and the upstream rule examples
kept beside it, see its README) is written to a small file of its own in a temporary tree,
with a name that suits it (`.env`, `config.yaml`, `app.py`, `key.pem`, ...). The three tools
scan the tree in one run; an item counts as detected by a tool when the tool reports a
finding on its file. Precision, recall and F1 overall and per secret type go to
benchmarks/results/scan-quality-<UTC>.json, and a table to stdout.

    python3 benchmarks/scan_quality.py [--secrethub target/debug/secrethub]
        [--venv ~/.cache/secrethub-scanbench] [--corpus FILE.jsonl ...] [--misses]
        [--split all|tune|holdout] [--show-holdout]

Held-out part: about a quarter of the upstream rules (chosen by a seeded hash of the rule's id,
HOLDOUT_SEED; all examples of a held-out rule go together, so that a provider tuned for cannot
leak into it) are kept apart for checking that rule changes generalise. `--misses` never lists
their items unless `--show-holdout` is given: tune on the rest, and read the held-out row of the
table only to compare before and after. `--split` scores only one part.
"""
import argparse
import collections
import datetime
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TYPES = ["database_credentials", "api_keys", "tls_certs", "signing_keys", "service_tokens", "infrastructure_secrets"]
DEFAULT_CORPUS = [os.path.join(HERE, "scan_corpus", "own.jsonl"),
                  os.path.join(HERE, "scan_corpus", "fresh.jsonl"),
                  os.path.join(ROOT, "..", "shared", "scan_corpus", "upstream.jsonl")]
# Changing the seed changes which rules are held out; keep it fixed so runs compare.
HOLDOUT_SEED = "secrethub-issue17-holdout-1"
UPSTREAM_SOURCES = ("noseyparker", "kingfisher")


def is_upstream(item):
    return item["source"].split(":")[0] in UPSTREAM_SOURCES


def held_out(item):
    """Whether the item belongs to the held-out quarter of the upstream rules."""
    if not is_upstream(item):
        return False
    digest = hashlib.sha256(f"{HOLDOUT_SEED}\0{item['source']}".encode()).digest()
    return digest[0] % 4 == 0


def part(item):
    """The corpus part an item is reported under in the table's last rows."""
    if is_upstream(item):
        return "upstream, held out" if held_out(item) else "upstream, tuning"
    return item.get("part", "own")


def file_name(item):
    """A file name that suits the item's text, when the item names none."""
    if item.get("file"):
        return item["file"]
    t = item["text"]
    s = t.strip()
    if "-----BEGIN" in t:
        return "key.pem"
    if s[:1] in "{[":
        try:
            json.loads(s)
            return "config.json"
        except ValueError:
            pass
    if re.match(r"^\[[\w .\-]+\]\s*$", s.splitlines()[0]):
        return "config.ini"
    if re.match(r"^(curl|wget|git|docker|npm|pip|sh|bash|python|jfrog|aws|az|gcloud|kubectl)\s", s):
        return "run.sh"
    lines = [l.strip() for l in s.splitlines() if l.strip() and not l.strip().startswith("#")]
    lines = [l.lstrip("# ") for l in lines] or [s.lstrip("# ")]
    if lines and all(re.match(r"^(export\s+)?[A-Za-z_][A-Za-z0-9_]*=\S", l) for l in lines):
        return ".env"
    if re.match(r"^[\w.\-\"']+\s*:\s", s):
        return "config.yaml"
    if not re.search(r"[\"'`]", s):
        # No string literal: not source code (an unquoted value would not compile there).
        return "settings.ini" if "=" in s else "notes.txt"
    if re.search(r":=|\bfunc\b", s):
        return "main.go"
    if re.search(r"\b(const|let|var)\b|;\s*$", s):
        return "app.js"
    if re.search(r"\b(def|import)\b|\w\s*=\s*[\"'(\w]", s):
        return "app.py"
    if re.match(r"^(curl|wget|export|git|docker|npm)\b", s):
        return "run.sh"
    return "notes.txt"


def load(paths):
    items = []
    for p in paths:
        if not os.path.exists(p):
            print(f"note: {p} is missing, left out", file=sys.stderr)
            continue
        name = os.path.splitext(os.path.basename(p))[0]
        with open(p) as f:
            for line in f:
                if line.strip():
                    item = json.loads(line)
                    item.setdefault("part", name)
                    items.append(item)
    return items


def write_tree(items, root):
    where = {}
    for i, it in enumerate(items):
        d = os.path.join(root, f"i{i:05d}")
        os.makedirs(d)
        path = os.path.join(d, file_name(it))
        with open(path, "w") as f:
            f.write(it["text"].rstrip("\n") + "\n")
        where[f"i{i:05d}"] = i
    return where


def item_of(path, root):
    rel = os.path.relpath(os.path.abspath(os.path.join(root, path)) if not os.path.isabs(path) else path, root)
    return rel.split(os.sep)[0]


def run_secrethub(binary, root):
    out = subprocess.run([binary, "scan", "-format=json", root], capture_output=True, text=True)
    if out.returncode not in (0, 1):
        raise SystemExit(f"secrethub scan failed: {out.stderr}")
    doc = json.loads(out.stdout)
    findings = doc["findings"] if isinstance(doc, dict) else doc
    return {item_of(f["path"], root) for f in findings}


def run_detect_secrets(venv, root):
    out = subprocess.run([os.path.join(venv, "bin", "detect-secrets"), "scan", "--all-files", "."],
                         capture_output=True, text=True, cwd=root)
    if out.returncode != 0:
        raise SystemExit(f"detect-secrets failed: {out.stderr}")
    return {item_of(p, root) for p, fs in json.loads(out.stdout)["results"].items() if fs}


def run_credsweeper(venv, root, tmp):
    report = os.path.join(tmp, "credsweeper.json")
    out = subprocess.run([os.path.join(venv, "bin", "credsweeper"), "--path", root, "--save-json", report,
                          "--jobs", str(os.cpu_count() or 1)], capture_output=True, text=True)
    if out.returncode != 0 or not os.path.exists(report):
        raise SystemExit(f"credsweeper failed: {out.stderr[-2000:]}")
    hits = set()
    for cand in json.load(open(report)):
        for ld in cand.get("line_data_list", []):
            hits.add(item_of(ld["path"], root))
    return hits


def scores(items, detected, keys):
    tp = fp = fn = tn = 0
    for k in keys:
        secret = items[k]["label"] == "secret"
        hit = k in detected
        tp += secret and hit
        fn += secret and not hit
        fp += (not secret) and hit
        tn += (not secret) and not hit
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": round(p, 3), "recall": round(r, 3), "f1": round(f1, 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secrethub", default=os.path.join(ROOT, "target", "debug", "secrethub"))
    ap.add_argument("--venv", default=os.path.expanduser("~/.cache/secrethub-scanbench"))
    ap.add_argument("--corpus", nargs="*", default=DEFAULT_CORPUS)
    ap.add_argument("--tools", default="secrethub,detect-secrets,credsweeper")
    ap.add_argument("--misses", action="store_true", help="print secrethub's misses and false positives")
    ap.add_argument("--split", choices=["all", "tune", "holdout"], default="all",
                    help="score only the tuning part or only the held-out upstream rules")
    ap.add_argument("--show-holdout", action="store_true", help="let --misses list held-out items too")
    args = ap.parse_args()

    items = load(args.corpus)
    if args.split != "all":
        items = [it for it in items if held_out(it) == (args.split == "holdout")]
    by_source = collections.Counter(it["source"].split(":")[0] for it in items)
    tools = args.tools.split(",")
    results = {}
    timings = {}
    with tempfile.TemporaryDirectory(prefix="scan-quality-") as tmp:
        root = os.path.join(tmp, "tree")
        os.makedirs(root)
        where = write_tree(items, root)
        byk = {k: items[i] for k, i in where.items()}
        for tool in tools:
            t0 = time.monotonic()
            if tool == "secrethub":
                hits = run_secrethub(args.secrethub, root)
            elif tool == "detect-secrets":
                hits = run_detect_secrets(args.venv, root)
            elif tool == "credsweeper":
                hits = run_credsweeper(args.venv, root, tmp)
            timings[tool] = round(time.monotonic() - t0, 2)
            main_keys = [k for k, it in byk.items() if not it.get("dummy")]
            overall = scores(byk, hits, main_keys)
            per_type = {t: scores(byk, hits, [k for k in main_keys if byk[k]["type"] == t]) for t in TYPES}
            parts = sorted({part(it) for it in byk.values()})
            per_part = {p: scores(byk, hits, [k for k in main_keys if part(byk[k]) == p]) for p in parts}
            results[tool] = {"overall": overall, "per_type": per_type, "per_part": per_part, "seconds": timings[tool],
                             "overall_with_dummy_examples": scores(byk, hits, list(byk))}
            if tool == "secrethub" and args.misses:
                for k, it in sorted(byk.items()):
                    if it.get("dummy") or (held_out(it) and not args.show_holdout):
                        continue
                    secret = it["label"] == "secret"
                    if secret != (k in hits):
                        kind = "MISS" if secret else "FP  "
                        print(f"{kind} {it['type']:<22} {it['source']:<40} {file_name(it):<16} {it['text'][:150]!r}")

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    labels = collections.Counter((it["label"], it["type"]) for it in items if not it.get("dummy"))
    dummies = sum(bool(it.get("dummy")) for it in items)
    doc = {
        "run": stamp,
        "corpus": {"items": len(items), "secrets": sum(it["label"] == "secret" for it in items),
                   "not_secrets": sum(it["label"] != "secret" for it in items), "by_source": dict(by_source),
                   "dummy_examples": dummies,
                   "by_type": {t: {"secret": labels[("secret", t)], "not_secret": labels[("not_secret", t)]} for t in TYPES}},
        "tools": results,
    }
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    out = os.path.join(HERE, "results", f"scan-quality-{stamp}.json")
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)

    print(f"corpus: {len(items)} items ({doc['corpus']['secrets']} secrets, {doc['corpus']['not_secrets']} not); "
          f"{dummies} upstream examples with a dummy value left out of the table below; run {stamp}")
    head = f"{'type':<24}" + "".join(f"{t:>26}" for t in tools)
    print(head)
    print(f"{'':<24}" + "".join(f"{'P / R / F1':>26}" for _ in tools))
    for row in ["overall"] + TYPES:
        cells = []
        for t in tools:
            s = results[t]["overall"] if row == "overall" else results[t]["per_type"][row]
            cells.append(f"{s['precision']:.3f} / {s['recall']:.3f} / {s['f1']:.3f}")
        n = labels_n = sum(v for (l, ty), v in labels.items() if row == "overall" or ty == row)
        print(f"{row + ' (' + str(n) + ')':<24}" + "".join(f"{c:>26}" for c in cells))
    cells = []
    for t in tools:
        s = results[t]["overall_with_dummy_examples"]
        cells.append(f"{s['precision']:.3f} / {s['recall']:.3f} / {s['f1']:.3f}")
    print(f"{'with dummies (' + str(len(items)) + ')':<24}" + "".join(f"{c:>26}" for c in cells))
    for p in results[tools[0]]["per_part"]:
        cells = []
        for t in tools:
            s = results[t]["per_part"][p]
            cells.append(f"{s['precision']:.3f} / {s['recall']:.3f} / {s['f1']:.3f}")
        n = sum(1 for it in items if part(it) == p and not it.get("dummy"))
        print(f"{p + ' (' + str(n) + ')':<24}" + "".join(f"{c:>26}" for c in cells))
    print("seconds: " + ", ".join(f"{t} {timings[t]}" for t in tools))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
