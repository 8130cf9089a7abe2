//! ACME (RFC 8555) as OpenBao serves it under a PKI mount: `acme/directory`,
//! `acme/new-nonce`, `acme/new-account`, `acme/account/:id`, `acme/new-order`,
//! `acme/order/:id` (and its `finalize` and `cert`), `acme/authorization/:id` and
//! `acme/challenge/:authz/http-01` and `acme/revoke-cert`, all without a token (the JWS is the authentication).
//! Enabled per mount with `config/acme` (`enabled`); the absolute URLs come from
//! `config/cluster`'s `path`, as in Vault. Identifiers are DNS names, validated with
//! http-01 when the client asks (the key authorization fetched from port 80 of the name),
//! and certificates are signed as `sign-verbatim` does (OpenBao's default directory
//! policy) by the default issuer.
//!
//! `revoke-cert` takes a certificate the signing account ordered. Not served: `key-change`,
//! revocation signed by the certificate's own key, account `orders` lists, dns-01 and tls-alpn-01,
//! external account binding, role- and issuer-scoped directories.

mod config;
mod flow;
mod http01;
mod jws;
pub(crate) mod store;

pub(crate) use config::{read_acme, read_cluster, write_acme, write_cluster};

use secrethub_engine::{Request, Response};
use serde_json::{json, Value};

use crate::error::Result;
use crate::signers::Signers;

const JSON: &str = "application/json";
const PROBLEM: &str = "application/problem+json";

/// An ACME error answer: HTTP status, RFC 8555 error type, detail.
pub(crate) struct Problem {
    status: u16,
    kind: &'static str,
    detail: String,
}

pub(crate) fn problem(status: u16, kind: &'static str, detail: impl Into<String>) -> Problem {
    Problem {
        status,
        kind,
        detail: detail.into(),
    }
}

impl From<jws::Refused> for Problem {
    fn from(r: jws::Refused) -> Self {
        problem(400, r.kind, r.detail)
    }
}

/// What an ACME handler answers: a response, an ACME problem, or the engine's own failure.
pub(crate) enum Outcome {
    Done(Response),
    Refused(Problem),
}

pub(crate) type Acme<T> =
    std::result::Result<std::result::Result<T, Problem>, crate::error::PkiError>;

/// `acme/*`: every ACME path, each answer with a fresh `Replay-Nonce` and the directory
/// as `Link: rel="index"`.
pub(crate) async fn handle(req: &Request, signers: &Signers, rest: &str) -> Result<Response> {
    let base = match config::base_url(req).await? {
        Ok(base) => base,
        Err(p) => return finish(req, "", Outcome::Refused(p)).await,
    };
    let outcome = match route(req, signers, &base, rest).await? {
        Ok(done) => Outcome::Done(done),
        Err(p) => Outcome::Refused(p),
    };
    finish(req, &base, outcome).await
}

async fn route(req: &Request, signers: &Signers, base: &str, rest: &str) -> Acme<Response> {
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["directory"] => Ok(Ok(json_answer(200, directory(base)))),
        ["new-nonce"] => Ok(Ok(Response::raw(JSON, Vec::new()))),
        _ if !req.op.is_write() => Ok(Err(problem(
            405,
            "malformed",
            "ACME requests other than the directory and nonces are POSTs",
        ))),
        _ => flow::post(req, signers, base, &parts).await,
    }
}

fn directory(base: &str) -> Value {
    json!({
        "keyChange": format!("{base}/acme/key-change"),
        "meta": {"externalAccountRequired": false},
        "newAccount": format!("{base}/acme/new-account"),
        "newNonce": format!("{base}/acme/new-nonce"),
        "newOrder": format!("{base}/acme/new-order"),
        "revokeCert": format!("{base}/acme/revoke-cert"),
    })
}

pub(crate) fn json_answer(status: u16, body: Value) -> Response {
    Response::raw_with_status(status, JSON, body.to_string().into_bytes())
}

async fn finish(req: &Request, base: &str, outcome: Outcome) -> Result<Response> {
    let response = match outcome {
        Outcome::Done(r) => r,
        Outcome::Refused(p) => {
            let body = json!({
                "type": format!("urn:ietf:params:acme:error:{}", p.kind),
                "detail": p.detail,
                "status": p.status,
            });
            Response::raw_with_status(p.status, PROBLEM, body.to_string().into_bytes())
        }
    };
    let nonce = store::new_nonce(&req.storage).await?;
    let mut response = response.with_header("Replay-Nonce", nonce);
    if !base.is_empty() {
        response = response.with_header("Link", format!("<{base}/acme/directory>;rel=\"index\""));
    }
    Ok(response)
}
