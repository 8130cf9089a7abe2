#!/usr/bin/env python3
"""SecretHub's own part of the scan corpus: decoys (lines that look like secrets and are
not) and fixtures (secrets in the settings and files where they are found in practice),
from templates with random values (seeded, so the file is reproducible), plus decoy lines
drawn from this repository's own source and docs. Writes own.jsonl beside this script.
"""
import base64
import hashlib
import json
import os
import random
import re
import string
import subprocess
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
rng = random.Random(17)
ALNUM = string.ascii_letters + string.digits


def rand(n, alphabet=ALNUM):
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64(n):
    return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(n))).decode()


def hexs(n):
    return rand(n, "0123456789abcdef")


WORDS = ["summer", "orange", "falcon", "river", "tiger", "maple", "rocket", "winter", "castle", "violet", "delta", "harbor"]


def human_password():
    w = rng.choice(WORDS)
    return rng.choice([
        lambda: w.capitalize() + str(rng.randint(1990, 2030)) + rng.choice("!#$%&*"),
        lambda: rand(rng.randint(12, 24), ALNUM + "!#%&*-_"),
        lambda: rand(rng.randint(16, 32)),
        lambda: w + rng.choice("!@#") + rand(6) + rng.choice(WORDS).upper(),
        lambda: b64(rng.randint(12, 24)).rstrip("="),
    ])()


def host():
    return rng.choice(["db.internal", "10.0.3.12", "prod-db-1.cluster-c9x.eu-west-1.rds.amazonaws.com", "postgres", "mysql.svc.cluster.local", "orders-db", "cache-01.prod"])


def user():
    return rng.choice(["app", "orders", "billing_svc", "admin_user", "reporting", "svc-api"])


def pem(kind, lines=12):
    body = "\n".join(b64(48) for _ in range(lines))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"


# (type, file name, text) makers for secrets.
def secrets():
    p = human_password
    yield "database_credentials", ".env", lambda: f"DATABASE_URL=postgresql://{user()}:{p()}@{host()}:5432/{rng.choice(['shop','orders','app'])}"
    yield "database_credentials", ".env", lambda: f"MONGO_URI=mongodb+srv://{user()}:{rand(16)}@cluster0.{rand(5).lower()}.mongodb.net/app?retryWrites=true"
    yield "database_credentials", "config.yaml", lambda: f"redis:\n  url: redis://:{rand(24)}@{host()}:6379/0"
    yield "database_credentials", "application.properties", lambda: f"spring.datasource.password={p()}"
    yield "database_credentials", "docker-compose.yml", lambda: f"services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: {p()}"
    yield "database_credentials", "settings.py", lambda: f"DATABASES = {{'default': {{'USER': '{user()}', 'PASSWORD': '{p()}'}}}}"
    yield "database_credentials", "app.env", lambda: f"MYSQL_ROOT_PASSWORD={p()}"
    yield "database_credentials", "db.conf", lambda: f"jdbc:mysql://{host()}:3306/shop?user={user()}&password={p()}"
    yield "database_credentials", "values.yaml", lambda: f"postgresql:\n  auth:\n    password: \"{p()}\""
    yield "infrastructure_secrets", "credentials", lambda: f"[default]\naws_access_key_id = AKIA{rand(16, string.ascii_uppercase + '234567')}\naws_secret_access_key = {rand(40, ALNUM + '/+')}"
    yield "infrastructure_secrets", "main.tf", lambda: f'provider "azurerm" {{\n  client_secret = "{rand(8)}~{rand(31, ALNUM + "_.-")}"\n}}'
    yield "infrastructure_secrets", ".env", lambda: f"AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=prod{rand(6).lower()};AccountKey={b64(64)};EndpointSuffix=core.windows.net"
    yield "infrastructure_secrets", "deploy.sh", lambda: f"export DIGITALOCEAN_TOKEN=dop_v1_{hexs(64)}"
    yield "service_tokens", ".env", lambda: f"VAULT_TOKEN=hvs.{rand(24)}"
    yield "service_tokens", ".npmrc", lambda: f"//registry.npmjs.org/:_authToken=npm_{rand(36)}"
    yield "service_tokens", "ci.yml", lambda: f"env:\n  PYPI_TOKEN: pypi-AgEIcHlwaS5vcmc{rand(60, ALNUM + '-_')}"
    yield "signing_keys", ".env", lambda: f"JWT_SECRET={rand(rng.choice([32, 48, 64]))}"
    yield "signing_keys", "settings.py", lambda: f"SECRET_KEY = '{rand(50, ALNUM + '!@#%^&*(-_=+)')}'"
    yield "signing_keys", "config.yml", lambda: f"stripe:\n  webhook_secret: whsec_{rand(32)}"
    yield "signing_keys", "app.env", lambda: f"SESSION_SECRET={hexs(64)}"
    yield "tls_certs", "server.key", lambda: pem("RSA PRIVATE KEY", 25)
    yield "tls_certs", "tls.key", lambda: pem("PRIVATE KEY", 16)
    yield "tls_certs", "id_ed25519", lambda: pem("OPENSSH PRIVATE KEY", 6)
    yield "tls_certs", "ec.pem", lambda: pem("EC PRIVATE KEY", 4)
    yield "api_keys", ".env", lambda: f"SENDGRID_API_KEY=SG.{rand(22, ALNUM + '-_')}.{rand(43, ALNUM + '-_')}"
    yield "api_keys", "config.js", lambda: f"const stripe = require('stripe')('sk_live_{rand(24)}');"
    yield "api_keys", "app.yaml", lambda: f"openai:\n  api_key: sk-proj-{rand(48, ALNUM + '-_')}"
    yield "api_keys", ".env", lambda: f"MAILGUN_API_KEY=key-{hexs(32)}"
    yield "api_keys", "settings.py", lambda: f"GOOGLE_MAPS_KEY = \"AIza{rand(35, ALNUM + '-_')}\""
    yield "api_keys", ".env", lambda: f"PAYMENT_PROVIDER_API_KEY={rand(32)}"


def decoys():
    yield "database_credentials", ".env", lambda: "DATABASE_URL=postgresql://app:${DB_PASSWORD}@db:5432/app"
    yield "database_credentials", "config.yaml", lambda: f"password: {rng.choice(['changeme', '<password>', '${DB_PASSWORD}', '{{ .Values.db.password }}', 'your-password-here', 'CHANGE_ME', '********', 'REDACTED'])}"
    yield "database_credentials", "db.py", lambda: "password = " + rng.choice(['get_password()', 'os.environ["DB_PASSWORD"]', 'config.db.password', 'vault.read("db")["password"]', 'args.password', 'None', 'getpass.getpass()'])
    yield "database_credentials", "app.java", lambda: "String password = " + rng.choice(['System.getenv("DB_PASSWORD")', 'props.getProperty("db.password")', 'request.getParameter("password")', 'credentials.getPassword()']) + ";"
    yield "database_credentials", "README.md", lambda: f"Set `{rng.choice(['DB_PASSWORD', 'POSTGRES_PASSWORD', 'password'])}` to the {rng.choice(['database', 'admin', 'service'])} password before you run `{rng.choice(['make', 'docker compose up', 'npm start'])}`."
    yield "database_credentials", "application.properties", lambda: f"spring.datasource.password=${{{rng.choice(['DB_PASSWORD', 'SPRING_DATASOURCE_PASSWORD'])}}}"
    yield "database_credentials", ".env", lambda: f"DATABASE_URL=postgres://{user()}@{host()}:5432/app?sslmode=require"
    yield "database_credentials", "schema.sql", lambda: f"ALTER TABLE users ADD COLUMN password_hash VARCHAR({rng.choice([60, 128, 255])}) NOT NULL;"
    yield "database_credentials", "users.py", lambda: f"user.password_hash = \"$2b$12${rand(53, ALNUM + './')}\""
    yield "infrastructure_secrets", "credentials", lambda: "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    yield "infrastructure_secrets", "main.tf", lambda: f"resource \"aws_iam_access_key\" \"{rand(5).lower()}\" {{\n  user = aws_iam_user.{rand(4).lower()}.name\n}}"
    yield "infrastructure_secrets", "variables.tf", lambda: 'variable "client_secret" {\n  type      = string\n  sensitive = true\n}'
    yield "infrastructure_secrets", "deploy.yml", lambda: f"aws_region: {rng.choice(['eu-west-1', 'us-east-1'])}\nrole_arn: arn:aws:iam::{rand(12, string.digits)}:role/{rng.choice(['deploy', 'ci'])}"
    yield "infrastructure_secrets", "subscription.json", lambda: f"{{\"subscriptionId\": \"{uuid.UUID(int=rng.getrandbits(128))}\", \"tenantId\": \"{uuid.UUID(int=rng.getrandbits(128))}\"}}"
    yield "infrastructure_secrets", "ami.tf", lambda: f"ami = \"ami-{hexs(17)}\""
    yield "service_tokens", "ci.yml", lambda: f"env:\n  VAULT_TOKEN: ${{{{ secrets.VAULT_TOKEN }}}}"
    yield "service_tokens", "client.go", lambda: f"token := os.Getenv(\"{rng.choice(['VAULT_TOKEN', 'NPM_TOKEN', 'CI_JOB_TOKEN'])}\")"
    yield "service_tokens", "Dockerfile", lambda: f"FROM python:3.12-slim@sha256:{hexs(64)}"
    yield "service_tokens", "package-lock.json", lambda: f"\"integrity\": \"sha512-{b64(64)}\""
    yield "service_tokens", "go.sum", lambda: f"github.com/{rand(6).lower()}/{rand(5).lower()} v1.{rng.randint(0, 20)}.0 h1:{b64(32)}"
    yield "service_tokens", ".npmrc", lambda: "//registry.npmjs.org/:_authToken=${NPM_TOKEN}"
    yield "signing_keys", "id_rsa.pub", lambda: f"ssh-rsa AAAAB3NzaC1yc2E{b64(270)} {user()}@laptop"
    yield "signing_keys", "pub.pem", lambda: pem("PUBLIC KEY", 6)
    yield "signing_keys", "ca.crt", lambda: pem("CERTIFICATE", 18)
    yield "signing_keys", "release.txt", lambda: f"{hexs(64)}  secrethub-{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}-linux-amd64.tar.gz"
    yield "signing_keys", "config.py", lambda: f"JWT_ALGORITHM = \"{rng.choice(['HS256', 'RS256', 'EdDSA'])}\"\nJWT_SECRET = os.environ[\"JWT_SECRET\"]"
    yield "signing_keys", "Cargo.lock", lambda: f"checksum = \"{hexs(64)}\""
    yield "tls_certs", "tls.yaml", lambda: f"tls:\n  cert_file: /etc/ssl/{rand(5).lower()}.crt\n  key_file: /etc/ssl/private/{rand(5).lower()}.key"
    yield "tls_certs", "nginx.conf", lambda: f"ssl_certificate_key /etc/nginx/ssl/{rand(6).lower()}.key;"
    yield "tls_certs", "docs.md", lambda: "Generate one with `openssl genrsa -out server.key 2048` and keep `-----BEGIN RSA PRIVATE KEY-----` files out of git."
    yield "tls_certs", "known_hosts", lambda: f"{host()} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{b64(32)}"
    yield "api_keys", "app.py", lambda: "api_key = " + rng.choice(['os.getenv("API_KEY")', 'settings.API_KEY', 'load_key(path)', 'request.headers.get("X-Api-Key")'])
    yield "api_keys", ".env.example", lambda: f"{rng.choice(['STRIPE', 'OPENAI', 'SENDGRID', 'GITHUB'])}_{rng.choice(['API_KEY', 'TOKEN'])}={rng.choice(['your_api_key_here', '<your-key>', 'xxxxxxxxxxxxxxxx', 'sk_test_...', 'replace-me', ''])}"
    yield "api_keys", "id.txt", lambda: f"request_id: {uuid.UUID(int=rng.getrandbits(128))}"
    yield "api_keys", "commit.txt", lambda: f"Fixes regression introduced in {hexs(40)}"
    yield "api_keys", "index.html", lambda: f"<img src=\"data:image/png;base64,{b64(90)}\">"
    yield "api_keys", "test_api.py", lambda: f"token_type = \"{rng.choice(['bearer', 'Bearer', 'access_token', 'refresh_token'])}\""
    yield "api_keys", "routes.js", lambda: f"app.get('/api/{rng.choice(['keys', 'tokens', 'secrets'])}/:id', {rng.choice(['getKey', 'listTokens', 'readSecret'])});"
    yield "api_keys", "const.py", lambda: f"{rng.choice(['TOKEN_URL', 'SECRET_PATH', 'API_KEY_HEADER'])} = \"{rng.choice(['https://oauth2.googleapis.com/token', 'secret/data/app', 'X-Api-Key', 'Authorization'])}\""
    yield "api_keys", "styles.css", lambda: f".token-{rand(4).lower()} {{ color: #{hexs(6)}; }}"


REPO_KEYWORDS = re.compile(r"(?i)password|passwd|secret|token|api[_-]?key|private[_-]?key|credential")
SUSPICIOUS = re.compile(r"[A-Za-z0-9+/_\-]{20,}")


def looks_random(line):
    for tok in SUSPICIOUS.findall(line):
        classes = sum(bool(re.search(c, tok)) for c in (r"[a-z]", r"[A-Z]", r"[0-9]"))
        if classes >= 3 and not re.fullmatch(r"[A-Za-z_]+[0-9]?", tok):
            return True
    return False


def repo_lines(limit):
    files = subprocess.run(["git", "-C", ROOT, "ls-files"], capture_output=True, text=True, check=True).stdout.split()
    files = [f for f in files if re.search(r"\.(rs|md|yaml|yml|toml|py|sh|js|hcl|json)$", f)
             and not f.startswith(("crates/scan/", "benchmarks/scan_corpus/"))
             and "/tests/" not in f and "/fixtures/" not in f and "test" not in os.path.basename(f)]
    cands = []
    for f in files:
        try:
            lines = open(os.path.join(ROOT, f), encoding="utf-8").read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for i, line in enumerate(lines):
            s = line.strip()
            if 8 <= len(s) <= 300 and REPO_KEYWORDS.search(s) and not looks_random(s):
                cands.append((f, i + 1, line))
    rng.shuffle(cands)
    return cands[:limit]


def type_of_line(line):
    l = line.lower()
    if re.search(r"database|postgres|mysql|password|db_", l):
        return "database_credentials"
    if re.search(r"pem|tls|cert|private.?key", l):
        return "tls_certs"
    if re.search(r"jwt|sign|hmac|transit", l):
        return "signing_keys"
    if re.search(r"aws|gcp|azure|kubernetes|iam", l):
        return "infrastructure_secrets"
    if re.search(r"token|vault|approle", l):
        return "service_tokens"
    return "api_keys"


def main():
    out = []
    for label, makers, per in (("secret", list(secrets()), 14), ("not_secret", list(decoys()), 14)):
        for t, name, make in makers:
            for _ in range(per):
                out.append({"text": make(), "label": label, "type": t, "file": name,
                            "source": "secrethub-fixture" if label == "secret" else "secrethub-decoy",
                            "license": "MPL-2.0"})
    for f, n, line in repo_lines(1100):
        ext = os.path.splitext(f)[1]
        out.append({"text": line, "label": "not_secret", "type": type_of_line(line),
                    "file": "line" + ext, "source": f"secrethub:{f}:{n}", "license": "MPL-2.0"})
    seen = set()
    path = os.path.join(HERE, "own.jsonl")
    with open(path, "w") as fh:
        for it in out:
            key = (it["text"], it["file"])
            if key in seen:
                continue
            seen.add(key)
            fh.write(json.dumps(it) + "\n")
    print(f"{len(seen)} items -> {path}")


if __name__ == "__main__":
    main()
