"""Helpers of the hvac compatibility suite: unique names, and `same_answer`, which makes the
same hvac call against SecretHub and a real OpenBao dev server and compares what a client sees
(status code or exception class, top-level keys, `data` keys) with ids and timestamps masked."""

import itertools
import os
import time

import hvac
import requests

_counter = itertools.count()


def unique(prefix):
    """A name no other test, worker or earlier run uses: lowercase, a valid SQL identifier."""
    return f"{prefix}_{os.getpid()}_{int(time.time() * 1000)}_{next(_counter)}"


# Keys of OpenBao-only features (HashiCorp Vault has none of them) that SecretHub does not
# claim: OpenBao's strict IP binding of tokens and KV v2 metadata check-and-set.
OPENBAO_ONLY_KEYS = {"token_strictly_bind_ip", "metadata_cas_required", "current_metadata_version"}

# The status of the last answer any client of this module received (tests are sequential).
_last_status = None


class Outcome:
    """What one hvac call produced, reduced to what a client can rely on."""

    def __init__(self, status, body, exception=None):
        self.status = status
        self.body = body
        self.exception = exception

    @property
    def exception_class(self):
        return type(self.exception).__name__ if self.exception is not None else None

    def __repr__(self):
        return f"Outcome(status={self.status}, exception={self.exception_class}, body={self.body!r})"


def _keys(value):
    return set(value) if isinstance(value, dict) else None


def differences(ours, theirs, project=None, ignore=()):
    """How SecretHub's outcome falls short of OpenBao's: another status or exception class, or
    a top-level or `data` key OpenBao sends that SecretHub does not. Values are never compared
    (ids and timestamps differ by nature). SecretHub may send more keys than OpenBao: it follows
    HashiCorp Vault where OpenBao dropped a field (`mount_type`, `policies` next to
    `token_policies`), and an extra key breaks no client."""
    found = []
    if ours.status != theirs.status:
        found.append(f"status {ours.status} where OpenBao answers {theirs.status}")
    if ours.exception_class != theirs.exception_class:
        found.append(f"hvac raises {ours.exception_class} where OpenBao gives {theirs.exception_class}")
    a = project(ours.body) if project and isinstance(ours.body, dict) else ours.body
    b = project(theirs.body) if project and isinstance(theirs.body, dict) else theirs.body
    for where, x, y in (
        ("top-level", a, b),
        ("data", a.get("data") if isinstance(a, dict) else None, b.get("data") if isinstance(b, dict) else None),
    ):
        kx, ky = _keys(x), _keys(y)
        if ky is None:
            continue
        if kx is None:
            found.append(f"{where} is {type(x).__name__} where OpenBao sends an object")
            continue
        missing = ky - kx - OPENBAO_ONLY_KEYS - set(ignore)
        if missing:
            found.append(f"{where} lacks {sorted(missing)}")
    return found


def client(addr, token):
    """An hvac client whose answers' HTTP statuses are recorded, so a test sees the real status
    code even when hvac turned it into an exception."""
    session = requests.Session()
    c = hvac.Client(url=addr, token=token, session=session, timeout=30)
    # hvac falls back to VAULT_TOKEN or ~/.vault-token when given None; an anonymous client
    # must stay anonymous.
    c.token = token

    def record(response, *args, **kwargs):
        global _last_status
        _last_status = response.status_code

    session.hooks["response"].append(record)
    return c


def last_status():
    """The HTTP status of the last answer any client of this module received."""
    return _last_status


def outcome(call, client):
    """Runs `call(client)` and records its status and body, whether hvac returned or raised."""
    global _last_status
    _last_status = None
    try:
        result = call(client)
    except hvac.exceptions.VaultError as e:
        return Outcome(_last_status, e.json, e)
    if isinstance(result, requests.Response):
        try:
            body = result.json()
        except ValueError:
            body = None
        return Outcome(result.status_code, body)
    return Outcome(_last_status, result)


def same_answer(secrethub, bao, call, project=None, setup=None, ignore=()):
    """Runs `call` against both servers (after `setup(client)` on each, whose result is passed
    to `call` as a second argument when given) and asserts SecretHub answers like OpenBao
    (see `differences`). `project` picks the part of a body to compare; `ignore` names keys
    OpenBao alone sends for this call. Returns both outcomes."""

    def run(client):
        if setup is None:
            return outcome(call, client)
        prepared = setup(client)
        return outcome(lambda c: call(c, prepared), client)

    ours = run(secrethub)
    theirs = run(bao)
    found = differences(ours, theirs, project, ignore)
    assert not found, (
        f"SecretHub answers differently from OpenBao: {'; '.join(found)}\n"
        f"  SecretHub: {ours!r}\n  OpenBao:   {theirs!r}"
    )
    return ours, theirs


def same_answers(secrethub, bao, calls, setup=None, project=None, ignore=()):
    """`same_answer` for each named call of `calls`, reporting every difference at once."""
    differences = []
    outcomes = {}
    for name, call in calls.items():
        try:
            outcomes[name] = same_answer(
                secrethub, bao, call, project=project, setup=setup, ignore=ignore
            )
        except AssertionError as e:
            differences.append(f"{name}: {e}")
    assert not differences, "\n".join(differences)
    return outcomes
