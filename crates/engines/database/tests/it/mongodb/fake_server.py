"""A scripted MongoDB stand-in for the MongoDB plugin's wire-level test (tests/it/mongodb.rs).

No MongoDB server can run on the build machine, so this answers the handful of commands the
plugin sends, over the real wire protocol (mockupdb 1.8.1), and records every command
document it receives. It is not MongoDB: it has users and passwords (SCRAM-SHA-256 really
checks the admin password, so a wrong one fails and a rotated one takes effect), but no roles,
no databases and no data.

- handshake (`isMaster`/`hello`): a standalone primary, wire version 17, SCRAM-SHA-256;
- `saslStart`/`saslContinue`: SCRAM-SHA-256 against the known users;
- `createUser`: stores the user; a role named `no_such_role…` is refused (RoleNotFound, 31),
  an existing user too (51003);
- `dropUser`: removes the user, or UserNotFound (11) when there is none;
- `updateUser`: changes the password, or UserNotFound;
- `usersInfo` (`forAllDBs`, `filter.user`), `ping`, `buildInfo`, `connectionStatus`: answered;
- anything else: `ok: 1`.

HTTP on a second port, for the test: `GET /ready`, `GET /commands` (the recorded command
documents in extended JSON, without the driver's `$`-fields), `GET /users` (`db.user` names).

Usage: fake_server.py --port P --http-port H --admin USER --admin-password PASSWORD
"""

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import threading

from bson import Binary, json_util
from mockupdb import MockupDB

ITERATIONS = 4096
HANDSHAKE = {"ismaster", "hello"}
AUTH = {"saslstart", "saslcontinue"}


class State:
    def __init__(self, admin, password):
        self.lock = threading.Lock()
        self.users = {("admin", admin): password}
        self.commands = []
        self.conversations = {}
        self.next_conversation = 1


def scram_keys(password, salt):
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest(), server_key


def fields(message):
    return dict(part.split("=", 1) for part in message.split(","))


def auth_failed(request):
    return request.reply(
        {"ok": 0, "code": 18, "codeName": "AuthenticationFailed",
         "errmsg": "Authentication failed."})


def handler(state):
    def handle(request):
        doc = request.doc
        name = request.command_name
        lname = (name or "").lower()
        db = doc.get("$db") or (request.namespace or "admin").split(".")[0]
        if lname in HANDSHAKE:
            reply = {"ok": 1, "ismaster": True, "isWritablePrimary": True,
                     "minWireVersion": 0, "maxWireVersion": 17,
                     "maxBsonObjectSize": 16777216, "maxMessageSizeBytes": 48000000,
                     "maxWriteBatchSize": 100000}
            if "saslSupportedMechs" in doc:
                reply["saslSupportedMechs"] = ["SCRAM-SHA-256"]
            return request.reply(reply)
        if lname == "saslstart":
            if doc.get("mechanism") != "SCRAM-SHA-256":
                return auth_failed(request)
            first = bytes(doc["payload"]).decode()
            bare = first.split(",", 2)[2]
            user = fields(bare)["n"].replace("=2C", ",").replace("=3D", "=")
            with state.lock:
                password = state.users.get((db, user))
                cid = state.next_conversation
                state.next_conversation += 1
            if password is None:
                return auth_failed(request)
            salt = os.urandom(16)
            nonce = fields(bare)["r"] + base64.b64encode(os.urandom(18)).decode()
            server_first = "r=%s,s=%s,i=%d" % (nonce, base64.b64encode(salt).decode(), ITERATIONS)
            with state.lock:
                state.conversations[cid] = (bare, server_first, password, salt, nonce)
            return request.reply({"ok": 1, "conversationId": cid, "done": False,
                                  "payload": Binary(server_first.encode())})
        if lname == "saslcontinue":
            with state.lock:
                conversation = state.conversations.pop(doc.get("conversationId"), None)
            if conversation is None:
                return auth_failed(request)
            bare, server_first, password, salt, nonce = conversation
            final = bytes(doc["payload"]).decode()
            without_proof, proof = final.rsplit(",p=", 1)
            if fields(without_proof).get("r") != nonce:
                return auth_failed(request)
            message = ("%s,%s,%s" % (bare, server_first, without_proof)).encode()
            stored_key, server_key = scram_keys(password, salt)
            signature = hmac.new(stored_key, message, hashlib.sha256).digest()
            client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature))
            if hashlib.sha256(client_key).digest() != stored_key:
                return auth_failed(request)
            verifier = hmac.new(server_key, message, hashlib.sha256).digest()
            return request.reply({"ok": 1, "conversationId": doc["conversationId"], "done": True,
                                  "payload": Binary(("v=" + base64.b64encode(verifier).decode()).encode())})

        command = {k: v for k, v in doc.items() if not k.startswith("$") and k != "lsid"}
        with state.lock:
            state.commands.append({"db": db, "command": command})
            if lname == "createuser":
                key = (db, doc["createUser"])
                roles = doc.get("roles", [])
                names = [r if isinstance(r, str) else r.get("role", "") for r in roles]
                if any(n.startswith("no_such_role") for n in names):
                    return request.reply({"ok": 0, "code": 31, "codeName": "RoleNotFound",
                                          "errmsg": "Could not find role: %s@%s" % (names[-1], db)})
                if key in state.users:
                    return request.reply({"ok": 0, "code": 51003, "codeName": "Location51003",
                                          "errmsg": 'User "%s@%s" already exists' % (key[1], db)})
                state.users[key] = doc.get("pwd", "")
                return request.reply({"ok": 1})
            if lname in ("dropuser", "updateuser"):
                key = (db, doc[name])
                if key not in state.users:
                    return request.reply({"ok": 0, "code": 11, "codeName": "UserNotFound",
                                          "errmsg": "User '%s@%s' not found" % (key[1], db)})
                if lname == "dropuser":
                    del state.users[key]
                else:
                    state.users[key] = doc.get("pwd", state.users[key])
                return request.reply({"ok": 1})
            if lname == "usersinfo":
                wanted = (doc.get("filter") or {}).get("user")
                users = [{"_id": "%s.%s" % (d, u), "user": u, "db": d, "roles": []}
                         for (d, u) in sorted(state.users) if wanted in (None, u)]
                return request.reply({"ok": 1, "users": users})
        if lname == "buildinfo":
            return request.reply({"ok": 1, "version": "7.0.0-fake"})
        if lname == "connectionstatus":
            actions = ["createUser", "dropUser", "grantRole", "viewUser", "changePassword"]
            return request.reply({"ok": 1, "authInfo": {
                "authenticatedUsers": [], "authenticatedUserRoles": [],
                "authenticatedUserPrivileges": [{"resource": {"db": "", "collection": ""},
                                                  "actions": actions}]}})
        return request.reply({"ok": 1})
    return handle


def serve_http(state, port):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            with state.lock:
                if self.path == "/ready":
                    body = "ok"
                elif self.path == "/commands":
                    body = json_util.dumps(state.commands,
                                           json_options=json_util.RELAXED_JSON_OPTIONS)
                elif self.path == "/users":
                    body = json.dumps(["%s.%s" % k for k in sorted(state.users)])
                else:
                    self.send_error(404)
                    return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--admin", required=True)
    p.add_argument("--admin-password", required=True)
    args = p.parse_args()
    state = State(args.admin, args.admin_password)
    server = MockupDB(port=args.port)
    server.autoresponds(handler(state))
    server.run()
    print("mongodb stand-in on port %d" % args.port, flush=True)
    serve_http(state, args.http_port)


if __name__ == "__main__":
    main()
