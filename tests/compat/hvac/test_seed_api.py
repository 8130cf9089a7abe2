"""The seed documents' own endpoints (outside the Vault API, so SecretHub only), sent with plain
`requests` the way the Quick Start's curl commands send them: `POST /api/v1/auth/login` with
`{"method": "kubernetes", "jwt": ...}` (plus the `role` Vault's kubernetes method needs)
against a local TokenReview stand-in over HTTPS, `PUT` and `GET /api/v1/secrets/database/postgres`
with `Authorization: Bearer <token>`, and `GET /health`; then `POST .../rotate` and logins with
userpass."""

import json
import os
import ssl
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from compat import unique

REVIEWER_JWT = "eyJhbGciOiJSUzI1NiJ9.hvac-seed-reviewer.signature"
SA_JWT = "eyJhbGciOiJSUzI1NiJ9.hvac-seed-web-prod.c2lnbmF0dXJl"


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _certificates(directory):
    """A CA made here and a certificate for 127.0.0.1 it signs (the kubernetes method checks
    the API server's certificate against `kubernetes_ca_cert`)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
             "-subj", "/CN=hvac seed test ca", cwd=directory)
    _openssl("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1",
             cwd=directory)
    with open(os.path.join(directory, "leaf.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "leaf.pem", "-days", "1", "-extfile", "leaf.ext",
             cwd=directory)


class _TokenReviews(BaseHTTPRequestHandler):
    """`POST /apis/authentication.k8s.io/v1/tokenreviews` as documented: the caller must be the
    reviewer (401 otherwise); the one known token is `web` in namespace `prod`."""

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        review = json.loads(self.rfile.read(length) or b"{}")
        if self.path != "/apis/authentication.k8s.io/v1/tokenreviews":
            return self._answer(404, {"kind": "Status", "code": 404})
        if self.headers.get("Authorization") != f"Bearer {REVIEWER_JWT}":
            return self._answer(401, {"kind": "Status", "reason": "Unauthorized", "code": 401})
        if review.get("spec", {}).get("token") == SA_JWT:
            status = {
                "authenticated": True,
                "user": {"username": "system:serviceaccount:prod:web",
                         "uid": "6f9c2d1e-0000-4000-8000-000000000002",
                         "groups": ["system:serviceaccounts", "system:authenticated"]},
                "audiences": ["https://kubernetes.default.svc.cluster.local"],
            }
        else:
            status = {"user": {}, "error": "[invalid bearer token, token lookup failed]"}
        self._answer(201, {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                           "spec": review.get("spec", {}), "status": status})

    def _answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def token_review_api():
    """The stand-in Kubernetes API: (url, ca_pem)."""
    with tempfile.TemporaryDirectory() as directory:
        _certificates(directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(directory, "leaf.pem"), os.path.join(directory, "leaf.key"))
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _TokenReviews)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        with open(os.path.join(directory, "ca.pem")) as f:
            ca_pem = f.read()
        try:
            yield f"https://127.0.0.1:{httpd.server_address[1]}", ca_pem
        finally:
            httpd.shutdown()
            httpd.server_close()


@pytest.fixture
def kubernetes(secrethub, token_review_api):
    """A kubernetes auth mount of this test's own, configured for the stand-in, with a role
    `app` for `web` in `prod` whose tokens may write and read `secret/database/*`."""
    url, ca_pem = token_review_api
    path = unique("k8s")
    policy = unique("seed_app")
    secrethub.sys.enable_auth_method("kubernetes", path=path)
    secrethub.adapter.post(f"/v1/auth/{path}/config", json={
        "kubernetes_host": url, "kubernetes_ca_cert": ca_pem, "token_reviewer_jwt": REVIEWER_JWT})
    secrethub.sys.create_or_update_policy(
        policy, 'path "secret/data/database/*" { capabilities = ["create", "read", "update"] }')
    secrethub.adapter.post(f"/v1/auth/{path}/role/app", json={
        "bound_service_account_names": "web", "bound_service_account_namespaces": "prod",
        "token_policies": policy})
    yield path
    secrethub.sys.disable_auth_method(path)
    secrethub.sys.delete_policy(policy)


def test_quick_start(secrethub, kubernetes):
    base = secrethub.url
    headers = {"Content-Type": "application/json"}

    # Authenticate (the method by its mount path; `role` is what Vault's kubernetes method needs).
    login = requests.post(f"{base}/api/v1/auth/login", headers=headers, timeout=30,
                          data=json.dumps({"method": kubernetes, "role": "app", "jwt": SA_JWT}))
    assert login.status_code == 200, login.text
    auth = login.json()["auth"]
    assert auth["metadata"]["service_account_name"] == "web"
    token = auth["client_token"]
    bearer = {**headers, "Authorization": f"Bearer {token}"}

    # Store a secret.
    put = requests.put(f"{base}/api/v1/secrets/database/postgres", headers=bearer, timeout=30,
                       data='{"username":"admin","password":"secure123"}')
    assert put.status_code == 200, put.text
    assert put.json()["data"]["version"] >= 1

    # Retrieve a secret.
    got = requests.get(f"{base}/api/v1/secrets/database/postgres",
                       headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert got.status_code == 200, got.text
    assert got.json()["data"]["data"] == {"username": "admin", "password": "secure123"}

    # Health check.
    health = requests.get(f"{base}/health", timeout=30)
    assert (health.status_code, health.json()["status"]) == (200, "ok")

    # A token the cluster does not know, and no role: the kubernetes method's own refusals.
    refused = requests.post(f"{base}/api/v1/auth/login", timeout=30,
                            json={"method": kubernetes, "role": "app", "jwt": "eyJ.unknown.x"})
    assert refused.status_code == 403, refused.text
    no_role = requests.post(f"{base}/api/v1/auth/login", timeout=30,
                            json={"method": kubernetes, "jwt": SA_JWT})
    assert (no_role.status_code, no_role.json()) == (400, {"errors": ["missing role"]})


def test_rotate_and_userpass_login(secrethub):
    base = secrethub.url
    path = unique("userpass")
    secret = f"seed/{unique('app')}"
    policy = unique("seed_rotate")
    secrethub.sys.create_or_update_policy(
        policy, 'path "secret/data/seed/*" { capabilities = ["create", "read", "update"] }')
    secrethub.sys.enable_auth_method("userpass", path=path)
    try:
        secrethub.adapter.post(f"/v1/auth/{path}/users/alice",
                               json={"password": "correct horse", "token_policies": policy})
        login = requests.post(f"{base}/api/v1/auth/login", timeout=30, json={
            "method": f"{path}/", "username": "alice", "password": "correct horse"})
        assert login.status_code == 200, login.text
        bearer = {"Authorization": f"Bearer {login.json()['auth']['client_token']}"}
        wrong = requests.post(f"{base}/api/v1/auth/login", timeout=30, json={
            "method": path, "username": "alice", "password": "not-it"})
        assert wrong.status_code == 400 and "not-it" not in wrong.text, wrong.text
        unknown = requests.post(f"{base}/api/v1/auth/login", timeout=30,
                                json={"method": unique("nope"), "jwt": "x"})
        assert unknown.status_code == 400 and unknown.json()["errors"][0].startswith(
            "unknown login method"), unknown.text

        requests.put(f"{base}/api/v1/secrets/{secret}", headers=bearer, timeout=30,
                     json={"username": "admin", "password": "secure123"}).raise_for_status()
        rotated = requests.post(f"{base}/api/v1/secrets/{secret}/rotate", headers=bearer,
                                timeout=30, json={"fields": {"password": {"length": 24}}})
        assert rotated.status_code == 200, rotated.text
        meta = rotated.json()["data"]
        assert (meta["version"], meta["rotated_fields"]) == (2, ["password"])
        data = requests.get(f"{base}/api/v1/secrets/{secret}", headers=bearer,
                            timeout=30).json()["data"]["data"]
        assert data["username"] == "admin" and data["password"] != "secure123"
        assert len(data["password"]) == 24 and data["password"] not in rotated.text
        missing = requests.post(f"{base}/api/v1/secrets/{secret}-missing/rotate", headers=bearer,
                                timeout=30)
        assert missing.status_code == 400 and "nothing to rotate" in missing.text, missing.text
    finally:
        secrethub.sys.disable_auth_method(path)
        secrethub.sys.delete_policy(policy)
