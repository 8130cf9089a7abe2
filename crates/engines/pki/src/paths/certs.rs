//! `pki/cert/:serial` (without a token, as in Vault; `ca`, `ca_chain` and `crl` name the
//! default issuer's certificate, chain and CRL) and LIST `pki/certs`.

use secrethub_common::format_rfc3339;
use secrethub_engine::{Request, Response};
use serde_json::json;

use crate::error::{PkiError, Result};
use crate::paths::answer;
use crate::paths::issuers::{default_issuer, NO_DEFAULT};
use crate::records::{self, check_serial, CERTS};

pub(crate) async fn read(req: &Request, serial: &str) -> Result<Response> {
    match serial {
        "ca" | "ca_chain" => {
            let issuer = default_issuer(req)
                .await?
                .ok_or_else(|| PkiError::invalid(NO_DEFAULT))?;
            let pem = format!("{}\n", issuer.certificate_pem.trim_end());
            let mut response = answer([
                ("certificate", json!(pem)),
                ("revocation_time", json!(0)),
                ("revocation_time_rfc3339", json!("")),
            ]);
            if serial == "ca_chain" {
                if let Some(data) = response.data.as_mut() {
                    data.insert("ca_chain".into(), json!(pem));
                }
            }
            Ok(response)
        }
        "crl" => {
            let issuer = default_issuer(req)
                .await?
                .ok_or_else(|| PkiError::invalid(NO_DEFAULT))?;
            let der = crate::crl::current(&req.storage, &issuer).await?;
            Ok(answer([
                (
                    "certificate",
                    json!(crate::keys::pem_of("X509 CRL", &der).as_str()),
                ),
                ("revocation_time", json!(0)),
                ("revocation_time_rfc3339", json!("")),
            ]))
        }
        _ => {
            // Vault's pattern takes hex digits, `:` and `-` only; anything else is no path.
            let serial = check_serial(serial)
                .map_err(|_| PkiError::Engine(secrethub_engine::EngineError::UnsupportedPath))?;
            let cert = records::cert(&req.storage, &serial)
                .await?
                .ok_or(PkiError::NotFound)?;
            let revoked = records::revoked(&req.storage, &serial).await?;
            let (time, rfc3339) = match &revoked {
                Some(r) => (
                    json!((r.revocation_time_nanos / 1_000_000_000) as i64),
                    json!(format_rfc3339(r.revocation_time_nanos)),
                ),
                None => (json!(0), json!("")),
            };
            let mut response = answer([
                ("certificate", json!(cert.certificate_pem)),
                ("revocation_time", time),
                ("revocation_time_rfc3339", rfc3339),
            ]);
            if revoked.is_some() {
                if let Some(data) = response.data.as_mut() {
                    data.insert("issuer_id".into(), json!(cert.issuer_id));
                }
            }
            Ok(response)
        }
    }
}

pub(crate) async fn list(req: &Request) -> Result<Response> {
    let keys: Vec<String> = secrethub_storage::list_all(&req.storage, CERTS)
        .await?
        .into_iter()
        .map(|k| k.replace('-', ":"))
        .collect();
    Response::list(keys).map_err(|_| PkiError::NotFound)
}
