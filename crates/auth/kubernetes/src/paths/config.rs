//! `auth/kubernetes/config`: how to reach the Kubernetes API. A write replaces the whole
//! config (as Vault does); `kubernetes_host` is required. `token_reviewer_jwt` is stored
//! (encrypted by the barrier like everything else) but never returned; reads say whether
//! one is set (`token_reviewer_jwt_set`).

use secrethub_common::input;
use secrethub_common::Sensitive;
use secrethub_engine::{JsonMap, Request, Response, StorageView};
use secrethub_storage::Storage as _;
use serde_json::Value;

use crate::endpoint::{api_base, parse_ca};
use crate::error::KubeError;
use crate::records::{ConfigRecord, CONFIG_KEY, RECORD_VERSION};
use crate::KubernetesAuth;

/// Reads the config, `None` when it was never written.
pub(crate) async fn load_config(storage: &StorageView) -> Result<Option<ConfigRecord>, KubeError> {
    Ok(storage.get_json(CONFIG_KEY).await?)
}

impl KubernetesAuth {
    pub(crate) async fn write_config(&self, req: &Request) -> Result<Response, KubeError> {
        let body = &req.body;
        let host = input::field::<String>(body, "kubernetes_host")?.unwrap_or_default();
        let host = host.trim().to_string();
        api_base(&host).map_err(|e| KubeError::field("kubernetes_host", e))?;

        let ca = input::field::<String>(body, "kubernetes_ca_cert")?.unwrap_or_default();
        if !ca.trim().is_empty() {
            parse_ca(&ca).map_err(|e| KubeError::field("kubernetes_ca_cert", e))?;
        }

        // Never echoed in an error: only its type is checked.
        let reviewer = match body.get("token_reviewer_jwt") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(_) => {
                return Err(KubeError::field("token_reviewer_jwt", "expected a string"));
            }
        };

        if input::field::<Vec<String>>(body, "pem_keys")?.is_some_and(|keys| !keys.is_empty()) {
            return Err(KubeError::field(
                "pem_keys",
                "local signature verification is not supported; SecretHub always checks \
                 tokens with the TokenReview API",
            ));
        }

        let record = ConfigRecord {
            version: RECORD_VERSION,
            kubernetes_host: host,
            kubernetes_ca_cert: if ca.trim().is_empty() {
                String::new()
            } else {
                ca
            },
            token_reviewer_jwt: Sensitive::new(reviewer),
            disable_local_ca_jwt: input::field::<bool>(body, "disable_local_ca_jwt")?
                .unwrap_or(false),
            issuer: input::field::<String>(body, "issuer")?.unwrap_or_default(),
            disable_iss_validation: input::field::<bool>(body, "disable_iss_validation")?
                .unwrap_or(true),
            default_role: input::field::<String>(body, "default_role")?
                .unwrap_or_default()
                .trim()
                .to_string(),
        };
        req.storage.put_json(CONFIG_KEY, &record).await?;
        Ok(Response::empty())
    }

    pub(crate) async fn read_config(&self, req: &Request) -> Result<Response, KubeError> {
        let config = load_config(&req.storage)
            .await?
            .ok_or(KubeError::NotFound)?;
        let mut data = JsonMap::new();
        data.insert("kubernetes_host".into(), config.kubernetes_host.into());
        data.insert(
            "kubernetes_ca_cert".into(),
            config.kubernetes_ca_cert.into(),
        );
        data.insert("pem_keys".into(), Value::Array(Vec::new()));
        data.insert(
            "disable_local_ca_jwt".into(),
            config.disable_local_ca_jwt.into(),
        );
        data.insert("issuer".into(), config.issuer.into());
        data.insert(
            "disable_iss_validation".into(),
            config.disable_iss_validation.into(),
        );
        data.insert("default_role".into(), config.default_role.into());
        // Whether one is stored; the JWT itself is never shown.
        data.insert(
            "token_reviewer_jwt_set".into(),
            (!config.token_reviewer_jwt.expose().is_empty()).into(),
        );
        Ok(Response::data(data))
    }

    /// Whether the config exists, for the ACL's create/update distinction.
    pub(crate) async fn config_exists(&self, storage: &StorageView) -> Result<bool, KubeError> {
        Ok(storage.get(CONFIG_KEY).await?.is_some())
    }
}
