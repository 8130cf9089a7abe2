//! ACME's POSTs: the JWS checked (nonce used once, URL, key: the new account's `jwk` or the
//! account named by `kid`), then accounts, orders, authorizations, the http-01 challenge,
//! finalization and the certificate download.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use secrethub_common::now_unix;
use secrethub_engine::{Request, Response};
use serde_json::{json, Value};

use crate::acme::http01;
use crate::acme::jws::{self, thumbprint};
use crate::acme::store::{
    self, Account, Authz, Order, ACCOUNTS, ACCOUNT_KEYS, AUTHZ, CERT_OWNERS, ORDERS,
};
use crate::acme::{json_answer, problem, Acme};
use crate::leaf::go_time;
use crate::signers::Signers;

/// How long an order and its authorizations stay open.
const ORDER_LIFETIME: i64 = 24 * 3600;

pub(crate) async fn post(
    req: &Request,
    signers: &Signers,
    base: &str,
    parts: &[&str],
) -> Acme<Response> {
    let text = |k: &str| req.str_field(k).unwrap_or_default();
    let envelope = match jws::envelope(&text("protected"), &text("payload"), &text("signature")) {
        Ok(e) => e,
        Err(r) => return Ok(Err(r.into())),
    };
    let nonce = envelope.header["nonce"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !store::take_nonce(&req.storage, &nonce).await? {
        return Ok(Err(problem(
            400,
            "badNonce",
            "the nonce is unknown, used or expired",
        )));
    }
    let expected_url = format!("{base}/{}", req.path);
    if envelope.header["url"].as_str() != Some(expected_url.as_str()) {
        return Ok(Err(problem(
            400,
            "unauthorized",
            "the JWS url is not this request's URL",
        )));
    }
    let new_account = parts == ["new-account"];
    let (jwk, account) = if new_account {
        match envelope.header.get("jwk") {
            Some(jwk) if envelope.header.get("kid").is_none() => (jwk.clone(), None),
            _ => {
                return Ok(Err(problem(
                    400,
                    "malformed",
                    "new-account needs a jwk and no kid",
                )))
            }
        }
    } else {
        let kid = envelope.header["kid"].as_str().unwrap_or_default();
        let id = kid
            .strip_prefix(&format!("{base}/acme/account/"))
            .unwrap_or_default();
        match store::load::<Account>(&req.storage, ACCOUNTS, id).await? {
            Some(a) if a.status == "valid" => (a.jwk.clone(), Some(a)),
            _ => {
                return Ok(Err(problem(
                    400,
                    "accountDoesNotExist",
                    "no valid account has this kid",
                )))
            }
        }
    };
    let signed = match envelope.verify(&jwk) {
        Ok(s) => s,
        Err(r) => return Ok(Err(r.into())),
    };
    let Some(account) = account else {
        return new_account_answer(req, base, &jwk, &signed.payload).await;
    };
    match parts {
        ["account", id] if *id == account.id => Ok(Ok(account_answer(base, &account, 200))),
        ["new-order"] => new_order(req, base, &account, &signed.payload).await,
        ["order", id] => {
            with_order(req, &account, id, |o| {
                Ok(json_answer(200, order_json(base, &o)))
            })
            .await
        }
        ["order", id, "finalize"] => {
            finalize(req, signers, base, &account, id, &signed.payload).await
        }
        ["order", id, "cert"] => {
            with_order(req, &account, id, |o| {
                if o.status != "valid" {
                    return Err(problem(
                        400,
                        "orderNotReady",
                        "the order has no certificate yet",
                    ));
                }
                Ok(Response::raw(
                    "application/pem-certificate-chain",
                    o.certificate_chain.into_bytes(),
                ))
            })
            .await
        }
        ["revoke-cert"] => revoke_cert(req, &account, &signed.payload).await,
        ["authorization", id] => {
            let Some(authz) = own_authz(req, &account, id).await? else {
                return Ok(Err(problem(404, "malformed", "no such authorization")));
            };
            Ok(Ok(json_answer(200, authz_json(base, &authz))))
        }
        ["challenge", id, "http-01"] => http01::challenge(req, base, &account, id).await,
        _ => Ok(Err(problem(
            404,
            "malformed",
            "this ACME path is not served",
        ))),
    }
}

fn account_answer(base: &str, account: &Account, status: u16) -> Response {
    let body = json!({"status": account.status, "contact": account.contact, "orders": format!("{base}/acme/account/{}/orders", account.id)});
    json_answer(status, body).with_header("Location", format!("{base}/acme/account/{}", account.id))
}

async fn new_account_answer(
    req: &Request,
    base: &str,
    jwk: &Value,
    payload: &Value,
) -> Acme<Response> {
    let Some(print) = thumbprint(jwk) else {
        return Ok(Err(problem(400, "badPublicKey", "unsupported account key")));
    };
    let by_key = format!("{ACCOUNT_KEYS}{print}");
    if let Some(id) = req.storage.get_json::<String>(&by_key).await? {
        if let Some(existing) = store::load::<Account>(&req.storage, ACCOUNTS, &id).await? {
            return Ok(Ok(account_answer(base, &existing, 200)));
        }
    }
    if payload["onlyReturnExisting"].as_bool() == Some(true) {
        return Ok(Err(problem(
            400,
            "accountDoesNotExist",
            "no account has this key",
        )));
    }
    if payload["termsOfServiceAgreed"].as_bool() == Some(false) {
        return Ok(Err(problem(
            400,
            "userActionRequired",
            "the terms of service must be agreed to",
        )));
    }
    let contact = payload["contact"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let account = Account {
        version: store::version(),
        id: store::new_id(),
        jwk: jwk.clone(),
        thumbprint: print,
        status: "valid".into(),
        contact,
    };
    req.storage
        .put_json(&format!("{ACCOUNTS}{}", account.id), &account)
        .await?;
    req.storage.put_json(&by_key, &account.id).await?;
    Ok(Ok(account_answer(base, &account, 201)))
}

fn order_json(base: &str, order: &Order) -> Value {
    let mut body = json!({
        "status": order.status,
        "expires": go_time(order.expires as i128 * 1_000_000_000),
        "identifiers": order.identifiers.iter().map(|v| json!({"type": "dns", "value": v})).collect::<Vec<_>>(),
        "authorizations": order.authz_ids.iter().map(|id| format!("{base}/acme/authorization/{id}")).collect::<Vec<_>>(),
        "finalize": format!("{base}/acme/order/{}/finalize", order.id),
    });
    if order.status == "valid" {
        body["certificate"] = json!(format!("{base}/acme/order/{}/cert", order.id));
    }
    body
}

pub(super) fn authz_json(base: &str, authz: &Authz) -> Value {
    let mut challenge = json!({
        "type": "http-01",
        "url": format!("{base}/acme/challenge/{}/http-01", authz.id),
        "token": authz.token,
        "status": authz.challenge_status,
    });
    if let Some(at) = authz.validated {
        challenge["validated"] = json!(go_time(at as i128 * 1_000_000_000));
    }
    if let Some(detail) = &authz.error {
        challenge["error"] =
            json!({"type": "urn:ietf:params:acme:error:connection", "detail": detail});
    }
    json!({
        "identifier": {"type": "dns", "value": authz.identifier},
        "status": authz.status,
        "expires": go_time(authz.expires as i128 * 1_000_000_000),
        "challenges": [challenge],
    })
}

async fn new_order(
    req: &Request,
    base: &str,
    account: &Account,
    payload: &Value,
) -> Acme<Response> {
    let mut identifiers = Vec::new();
    for ident in payload["identifiers"].as_array().into_iter().flatten() {
        let (Some("dns"), Some(value)) = (ident["type"].as_str(), ident["value"].as_str()) else {
            return Ok(Err(problem(
                400,
                "unsupportedIdentifier",
                "only dns identifiers are supported",
            )));
        };
        if value.starts_with("*.") {
            return Ok(Err(problem(
                400,
                "rejectedIdentifier",
                "wildcards need dns-01, which is not served",
            )));
        }
        identifiers.push(value.to_ascii_lowercase());
    }
    identifiers.sort();
    identifiers.dedup();
    if identifiers.is_empty() {
        return Ok(Err(problem(400, "malformed", "an order needs identifiers")));
    }
    let expires = now_unix() + ORDER_LIFETIME;
    let order_id = store::new_id();
    let mut authz_ids = Vec::new();
    for identifier in &identifiers {
        let authz = Authz {
            version: store::version(),
            id: store::new_id(),
            account_id: account.id.clone(),
            order_id: order_id.clone(),
            identifier: identifier.clone(),
            status: "pending".into(),
            expires,
            token: B64URL.encode(secrethub_common::random_bytes(32)),
            challenge_status: "pending".into(),
            validated: None,
            error: None,
        };
        req.storage
            .put_json(&format!("{AUTHZ}{}", authz.id), &authz)
            .await?;
        authz_ids.push(authz.id);
    }
    let order = Order {
        version: store::version(),
        id: order_id,
        account_id: account.id.clone(),
        status: "pending".into(),
        expires,
        identifiers,
        authz_ids,
        certificate_chain: String::new(),
    };
    req.storage
        .put_json(&format!("{ORDERS}{}", order.id), &order)
        .await?;
    Ok(Ok(json_answer(201, order_json(base, &order)).with_header(
        "Location",
        format!("{base}/acme/order/{}", order.id),
    )))
}

async fn with_order(
    req: &Request,
    account: &Account,
    id: &str,
    answer: impl FnOnce(Order) -> Result<Response, crate::acme::Problem>,
) -> Acme<Response> {
    match store::load::<Order>(&req.storage, ORDERS, id).await? {
        Some(o) if o.account_id == account.id => Ok(answer(o)),
        _ => Ok(Err(problem(404, "malformed", "no such order"))),
    }
}

pub(super) async fn own_authz(
    req: &Request,
    account: &Account,
    id: &str,
) -> crate::error::Result<Option<Authz>> {
    Ok(store::load::<Authz>(&req.storage, AUTHZ, id)
        .await?
        .filter(|a| a.account_id == account.id))
}

async fn finalize(
    req: &Request,
    signers: &Signers,
    base: &str,
    account: &Account,
    id: &str,
    payload: &Value,
) -> Acme<Response> {
    let Some(mut order) = store::load::<Order>(&req.storage, ORDERS, id)
        .await?
        .filter(|o| o.account_id == account.id)
    else {
        return Ok(Err(problem(404, "malformed", "no such order")));
    };
    if order.status != "ready" {
        return Ok(Err(problem(
            403,
            "orderNotReady",
            format!("the order is {}", order.status),
        )));
    }
    let Some(der) = payload["csr"].as_str().and_then(|c| B64URL.decode(c).ok()) else {
        return Ok(Err(problem(400, "badCSR", "csr must be base64url DER")));
    };
    let pem = crate::keys::pem_of("CERTIFICATE REQUEST", &der).to_string();
    let csr = match crate::csr::Csr::parse(&pem) {
        Ok(csr) => csr,
        Err(e) => return Ok(Err(problem(400, "badCSR", e.to_string()))),
    };
    let mut names: Vec<String> = csr
        .names
        .alt_names
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    if !csr.names.common_name.is_empty() {
        names.push(csr.names.common_name.to_ascii_lowercase());
    }
    names.sort();
    names.dedup();
    if names != order.identifiers || !csr.names.ip_sans.is_empty() || !csr.names.uri_sans.is_empty()
    {
        return Ok(Err(problem(
            400,
            "badCSR",
            "the CSR's names are not the order's identifiers",
        )));
    }
    let chain = match crate::paths::issue::sign_for_acme(req, signers, &csr).await {
        Ok(chain) => chain,
        Err(e) if e.kind() == secrethub_common::ErrorKind::BadRequest => {
            return Ok(Err(problem(400, "badCSR", e.to_string())))
        }
        Err(e) => return Err(e),
    };
    // Who may revoke it over ACME: the account that ordered it.
    if let Some(leaf) = chain.split_inclusive("-----END CERTIFICATE-----").next() {
        let serial = crate::cert::facts_of_pem(leaf)?.serial;
        req.storage
            .put_json(
                &format!("{CERT_OWNERS}{}", crate::records::serial_key(&serial)),
                &account.id,
            )
            .await?;
    }
    order.status = "valid".into();
    order.certificate_chain = chain;
    req.storage
        .put_json(&format!("{ORDERS}{}", order.id), &order)
        .await?;
    Ok(Ok(json_answer(200, order_json(base, &order)).with_header(
        "Location",
        format!("{base}/acme/order/{}", order.id),
    )))
}

/// `revoke-cert`, signed by the account that ordered the certificate (not by the
/// certificate's own key, which is not served).
async fn revoke_cert(req: &Request, account: &Account, payload: &Value) -> Acme<Response> {
    let Some(der) = payload["certificate"]
        .as_str()
        .and_then(|c| B64URL.decode(c).ok())
    else {
        return Ok(Err(problem(
            400,
            "malformed",
            "certificate must be base64url DER",
        )));
    };
    let Ok(facts) = crate::cert::facts_of_der(der) else {
        return Ok(Err(problem(
            400,
            "malformed",
            "the certificate cannot be read",
        )));
    };
    let owner_key = format!("{CERT_OWNERS}{}", crate::records::serial_key(&facts.serial));
    let owner: Option<String> = req.storage.get_json(&owner_key).await?;
    if owner.as_deref() != Some(account.id.as_str()) {
        return Ok(Err(problem(
            403,
            "unauthorized",
            "this account did not order this certificate",
        )));
    }
    if crate::records::revoked(&req.storage, &facts.serial)
        .await?
        .is_some()
    {
        return Ok(Err(problem(
            400,
            "alreadyRevoked",
            "the certificate is revoked already",
        )));
    }
    crate::paths::revoke::revoke_serial(&req.storage, &facts.serial, false).await?;
    Ok(Ok(Response::raw(super::JSON, Vec::new())))
}
