//! Typed helpers for the `sys/` endpoints the CLI needs before a token exists:
//! seal status, init, unseal and seal.

use secrethub_common::Sensitive;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{Client, ClientError};

/// `GET sys/seal-status`, with Vault's field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SealStatus {
    /// Seal type, `shamir` for key shares.
    #[serde(rename = "type")]
    pub seal_type: String,
    /// Whether `sys/init` has run.
    pub initialized: bool,
    /// Whether the barrier is sealed.
    pub sealed: bool,
    /// Key threshold.
    pub t: u32,
    /// Number of key shares.
    pub n: u32,
    /// Unseal keys supplied so far.
    pub progress: u32,
    /// Identifies the unseal attempt in progress.
    pub nonce: String,
    /// Server version.
    pub version: String,
    /// When the server was built.
    pub build_date: String,
    /// Whether a seal migration is under way.
    pub migration: bool,
    /// Cluster name, once unsealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Cluster ID, once unsealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// Whether the seal uses recovery keys (auto-unseal).
    pub recovery_seal: bool,
    /// Storage backend name.
    pub storage_type: String,
}

/// Body of `PUT sys/init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitRequest {
    /// Number of unseal key shares to split the root key into.
    pub secret_shares: u32,
    /// Shares needed to unseal.
    pub secret_threshold: u32,
}

/// Answer of `PUT sys/init`: the only time the key shares and the root token are shown.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InitResponse {
    /// Key shares, hex-encoded.
    pub keys: Vec<Sensitive<String>>,
    /// Key shares, base64-encoded.
    pub keys_base64: Vec<Sensitive<String>>,
    /// The initial root token.
    pub root_token: Sensitive<String>,
}

impl Client {
    /// `GET sys/seal-status` (no token needed).
    pub async fn seal_status(&self) -> Result<SealStatus, ClientError> {
        let body = self.request("GET", "sys/seal-status", None, &[]).await?;
        decode(self, "sys/seal-status", body)
    }

    /// `PUT sys/init`.
    pub async fn init(&self, req: &InitRequest) -> Result<InitResponse, ClientError> {
        let body = serde_json::to_value(req)
            .map_err(|e| ClientError::config(format!("error encoding the init request: {e}")))?;
        let answer = self.request("PUT", "sys/init", Some(&body), &[]).await?;
        decode(self, "sys/init", answer)
    }

    /// `PUT sys/unseal` with one key share.
    pub async fn unseal(&self, key: &Sensitive<String>) -> Result<SealStatus, ClientError> {
        self.unseal_body(&json!({ "key": key.expose() })).await
    }

    /// `PUT sys/unseal` with `reset`, discarding the key shares supplied so far.
    pub async fn unseal_reset(&self) -> Result<SealStatus, ClientError> {
        self.unseal_body(&json!({ "reset": true })).await
    }

    /// `PUT sys/seal`.
    pub async fn seal(&self) -> Result<(), ClientError> {
        self.request("PUT", "sys/seal", None, &[]).await.map(drop)
    }

    async fn unseal_body(&self, body: &Value) -> Result<SealStatus, ClientError> {
        let answer = self.request("PUT", "sys/unseal", Some(body), &[]).await?;
        decode(self, "sys/unseal", answer)
    }
}

/// Parses a typed answer; the error names the endpoint, never the body (it may hold key shares).
fn decode<T: for<'de> Deserialize<'de>>(
    client: &Client,
    path: &str,
    body: Option<Value>,
) -> Result<T, ClientError> {
    let url = format!("{}/v1/{path}", client.addr());
    let body =
        body.ok_or_else(|| ClientError::decode("", &url, 204, "empty response".to_string()))?;
    // Some servers wrap sys answers in `data`; Vault answers them at the top level.
    let body = match body.get("data") {
        Some(inner @ Value::Object(_))
            if body.get("sealed").is_none() && body.get("root_token").is_none() =>
        {
            inner.clone()
        }
        _ => body,
    };
    serde_json::from_value(body).map_err(|e| ClientError::decode("", &url, 200, e.to_string()))
}
