//! http-01 (RFC 8555 section 8.3): validated when the client asks, by fetching
//! `http://<name>/.well-known/acme-challenge/<token>` from port 80 over a plain TCP
//! connection (ten seconds at most) and comparing the body with the key authorization.

use std::time::Duration;

use secrethub_common::now_unix;
use secrethub_engine::{Request, Response};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::acme::flow::{authz_json, own_authz};
use crate::acme::store::{self, Account, Authz, Order, AUTHZ, ORDERS};
use crate::acme::{json_answer, problem, Acme};

/// Validates http-01 now: `http://<name>/.well-known/acme-challenge/<token>` (port 80)
/// must answer the key authorization. The order is ready once all its names are valid.
pub(super) async fn challenge(
    req: &Request,
    base: &str,
    account: &Account,
    id: &str,
) -> Acme<Response> {
    let Some(mut authz) = own_authz(req, account, id).await? else {
        return Ok(Err(problem(404, "malformed", "no such challenge")));
    };
    if authz.status == "pending" {
        let key_authz = format!("{}.{}", authz.token, account.thumbprint);
        match fetch_http01(&authz.identifier, &authz.token).await {
            Ok(body) if body.trim() == key_authz => {
                authz.status = "valid".into();
                authz.challenge_status = "valid".into();
                authz.validated = Some(now_unix());
            }
            Ok(_) => {
                authz.status = "invalid".into();
                authz.challenge_status = "invalid".into();
                authz.error = Some("the key authorization served does not match".into());
            }
            Err(e) => {
                authz.status = "invalid".into();
                authz.challenge_status = "invalid".into();
                authz.error = Some(e);
            }
        }
        req.storage
            .put_json(&format!("{AUTHZ}{}", authz.id), &authz)
            .await?;
        update_order(req, &authz.order_id).await?;
    }
    let body = authz_json(base, &authz)["challenges"][0].clone();
    Ok(Ok(json_answer(200, body).with_header(
        "Link",
        format!("<{base}/acme/authorization/{}>;rel=\"up\"", authz.id),
    )))
}

/// An order is `ready` once every authorization is valid, `invalid` once one is.
async fn update_order(req: &Request, order_id: &str) -> crate::error::Result<()> {
    let Some(mut order) = store::load::<Order>(&req.storage, ORDERS, order_id).await? else {
        return Ok(());
    };
    let mut statuses = Vec::new();
    for id in &order.authz_ids {
        if let Some(a) = store::load::<Authz>(&req.storage, AUTHZ, id).await? {
            statuses.push(a.status);
        }
    }
    if statuses.iter().any(|s| s == "invalid") {
        order.status = "invalid".into();
    } else if statuses.iter().all(|s| s == "valid") && order.status == "pending" {
        order.status = "ready".into();
    }
    req.storage
        .put_json(&format!("{ORDERS}{}", order.id), &order)
        .await?;
    Ok(())
}

async fn fetch_http01(host: &str, token: &str) -> Result<String, String> {
    let work = async {
        let mut stream = tokio::net::TcpStream::connect((host, 80))
            .await
            .map_err(|e| format!("connecting to {host}:80: {e}"))?;
        let request = format!(
            "GET /.well-known/acme-challenge/{token} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: secrethub-acme\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        stream
            .take(64 * 1024)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP answer")?;
        let status_ok = head
            .lines()
            .next()
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("200"));
        if !status_ok {
            return Err(format!(
                "{host} answered {}",
                head.lines().next().unwrap_or_default()
            ));
        }
        Ok(body.to_string())
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .map_err(|_| format!("no answer from {host}:80 within 10 s"))?
}
