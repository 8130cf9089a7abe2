#!/usr/bin/env python3
"""Labelled items from the public rule examples of Nosey Parker and Kingfisher (Apache-2.0).

Each rule's `examples` are secrets, its `negative_examples` are not. The secret type is read
from the rule's name and id (our taxonomy). Usage:

    extract_upstream.py NOSEYPARKER_RULES_DIR KINGFISHER_RULES_DIR OUT.jsonl

The output is kept beside the corpus, not committed with it (see README.md).
"""
import glob
import json
import os
import re
import sys

import yaml

TYPES = [
    ("database_credentials", r"postgres|mysql|mongo|redis|jdbc|database|\bdb\b|sql|connection.?string|couch|cassandra|neo4j|clickhouse|snowflake|supabase|planetscale|cockroach|rabbitmq|amqp|redshift|odbc|elastic|influx|firebase.?database|ldap"),
    ("tls_certs", r"private.?key|pem\b|pkcs|certificate|ssh|putty|\bkey.?file"),
    ("signing_keys", r"jwt|signing|webhook.?secret|hmac|\bage\b|pgp|gpg|encryption.?key|secret.?key.?base|django.?secret|flask"),
    ("service_tokens", r"vault|hashicorp|kubernetes|\bk8s|service.?account.?token|npm|pypi|nuget|rubygems|docker|artifactory|jfrog|gitlab.?runner|ci.?token|circleci|travis|buildkite|jenkins|sonar|codecov|teamcity|octopus|argo"),
    ("infrastructure_secrets", r"\baws\b|amazon|gcp|google.?cloud|azure|digitalocean|heroku|terraform|cloudflare|linode|alibaba|tencent|\bibm|oracle|scaleway|vultr|hetzner|ovh|fastly|netlify|vercel|fly\.io|render|pulumi|openstack|backblaze|wasabi|minio|doppler|1password"),
]


def secret_type(rule):
    text = f"{rule.get('name', '')} {rule.get('id', '')}".lower()
    for t, pat in TYPES:
        if re.search(pat, text):
            return t
    return "api_keys"


DUMMY = re.compile(
    r"123e4567-e89b-12d3|\b12345678-[0-9a-f]{4}-|example|x{8}|(\S)\1{7}|abcdefghijklmnop|qwertyuiop|aaaabbbbcccc|"
    r"(abcdef|123456|abcd1234|xyz|ABCDEF)[^\s]{0,12}?\2.{0,12}?\2|1234567890.{0,40}?1234567890",
    re.IGNORECASE,
)


def is_dummy(text):
    """An upstream example whose value only shows a rule's shape (the example UUID,
    `abcdef…` counted out, `EXAMPLE`, a repeated character): kept and labelled a secret, but
    flagged, so that results are reported with and without them."""
    return bool(DUMMY.search(text))


def is_secret_rule(rule):
    """Rules that find identifiers rather than secrets (an ARN, an S3 bucket, a JFrog or
    Salesforce host, an age recipient): Nosey Parker marks them `identifier` without `secret`,
    Kingfisher `visible: false` (they only feed another rule's validation). Their examples are
    left out: labelled as secrets they would be wrong, and they are not decoys either."""
    cats = set(rule.get("categories") or [])
    if cats and "secret" not in cats and ({"identifier", "domain"} & cats or not ({"api", "token", "key", "webhook"} & cats)):
        return False
    return rule.get("visible", True) is not False


def items(path, source):
    doc = yaml.safe_load(open(path)) or {}
    for rule in doc.get("rules") or []:
        if not is_secret_rule(rule):
            continue
        t = secret_type(rule)
        for label, key in (("secret", "examples"), ("not_secret", "negative_examples")):
            for ex in rule.get(key) or []:
                if not isinstance(ex, str) or not ex.strip() or len(ex) > 20000:
                    continue
                yield {
                    "text": ex,
                    "label": label,
                    "dummy": label == "secret" and is_dummy(ex),
                    "type": t,
                    "source": f"{source}:{rule.get('id')}",
                    "license": "Apache-2.0",
                }


def main():
    np_dir, kf_dir, out = sys.argv[1:4]
    seen = set()
    n = 0
    with open(out, "w") as f:
        for d, src in ((np_dir, "noseyparker"), (kf_dir, "kingfisher")):
            for path in sorted(glob.glob(os.path.join(d, "*.yml")) + glob.glob(os.path.join(d, "*.yaml"))):
                for it in items(path, src):
                    if it["text"] in seen:
                        continue
                    seen.add(it["text"])
                    f.write(json.dumps(it) + "\n")
                    n += 1
    print(f"{n} items -> {out}")


if __name__ == "__main__":
    main()
