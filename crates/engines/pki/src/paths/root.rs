//! `pki/root/generate/internal|exported`: a new self-signed root CA (key made here, on the
//! blocking pool), stored as an issuer, made the default when there is none, with an empty
//! CRL. `exported` answers the private key as well. `DELETE pki/root` (sudo) deletes every
//! issuer, as Vault does.

use secrethub_common::now_unix;
use secrethub_engine::{Request, Response};
use serde_json::json;

use crate::ca::{self, CaInput, NewIssuer};
use crate::cert::{cert_pem, format_serial};
use crate::error::Result;
use crate::records::{CONFIG_ISSUERS, ISSUERS, KEYS};

pub(crate) async fn generate(req: &Request, exported: &str) -> Result<Response> {
    let exported = ca::exported(exported)?;
    let input = CaInput::decode(req)?;
    let spec = input.key_spec()?;
    let mut warnings = Vec::new();
    let ttl = ca::mount_ttl(req, input.ttl, &mut warnings);
    let now = now_unix();
    let not_after = now + ttl.as_secs() as i64;
    let urls = crate::paths::config::urls(req).await?;
    let (params, serial) = input.ca_params(now, not_after, &urls, &mut warnings)?;
    ca::aia_warning(&urls, &mut warnings);
    let (key, der) = ca::generate_self_signed(spec, params).await?;
    let pem = cert_pem(&der);
    let serial_number = format_serial(&serial);
    let record = ca::store_issuer(
        req,
        NewIssuer {
            name: &input.issuer_name,
            key_id: None,
            key_name: &input.key_name,
            certificate_pem: pem.clone(),
            serial_number: serial_number.clone(),
            not_after,
            key: &key,
            ca_chain: Vec::new(),
        },
    )
    .await?;
    let shown_cert = match input.format.as_str() {
        "der" => ca::base64_of(&der),
        _ => pem.trim_end().to_string(),
    };
    let mut response = crate::paths::answer([
        ("certificate", json!(shown_cert)),
        ("expiration", json!(not_after)),
        ("issuer_id", json!(record.id)),
        ("issuer_name", json!(record.name)),
        ("issuing_ca", json!(shown_cert)),
        ("key_id", json!(record.key_id)),
        ("key_name", json!(record.key_name)),
        ("serial_number", json!(serial_number)),
    ]);
    if exported {
        let data = response.data.get_or_insert_with(Default::default);
        ca::answer_key(data, &key, &input.format, input.key_format())?;
    }
    response.warnings = warnings;
    Ok(response)
}

/// `DELETE pki/root`: every issuer and pending key, their CRLs and the default go
/// (certificates stay).
pub(crate) async fn delete(req: &Request) -> Result<Response> {
    let mut keys = vec![CONFIG_ISSUERS.to_string()];
    for id in secrethub_storage::list_all(&req.storage, ISSUERS).await? {
        keys.push(format!("{ISSUERS}{id}"));
        keys.push(format!("{}{id}", crate::crl::CRLS));
    }
    for id in secrethub_storage::list_all(&req.storage, KEYS).await? {
        keys.push(format!("{KEYS}{id}"));
    }
    ca::delete_keys(req, keys).await?;
    Ok(Response {
        warnings: vec!["DELETE /root deletes all keys and issuers; prefer the new DELETE /key/:key_ref and DELETE /issuer/:issuer_ref for finer granularity, unless removal of all keys and issuers is desired.".into()],
        ..Response::default()
    })
}
