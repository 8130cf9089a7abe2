//! What the method persists in its mount's storage, under the keys named here:
//! `config/client` ([`ClientConfigRecord`]), `config/identity` ([`IdentityConfigRecord`]) and
//! `role/<name>` ([`RoleRecord`]).

use secrethub_common::Sensitive;
use secrethub_engine::{EngineError, StorageView, TokenParams};
use secrethub_storage::validate_key;
use serde::{Deserialize, Serialize};

/// Current version of every record.
pub(crate) const RECORD_VERSION: u32 = 1;
/// Storage key of the client configuration.
pub(crate) const CLIENT_CONFIG_KEY: &str = "config/client";
/// Storage key of the identity configuration.
pub(crate) const IDENTITY_CONFIG_KEY: &str = "config/identity";
/// Where STS is when `sts_endpoint` is not set.
pub(crate) const DEFAULT_STS_ENDPOINT: &str = "https://sts.amazonaws.com";
/// Retries of a failed STS call when `max_retries` is -1 (the AWS SDKs' default).
pub(crate) const DEFAULT_MAX_RETRIES: u32 = 3;

/// `config/client`: how to reach STS and what a login request must carry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ClientConfigRecord {
    pub(crate) version: u32,
    /// Stored for compatibility; IAM logins need no credentials of their own.
    pub(crate) access_key: String,
    /// Stored for compatibility, never returned.
    pub(crate) secret_key: Sensitive<String>,
    pub(crate) endpoint: String,
    pub(crate) iam_endpoint: String,
    /// Where login requests are forwarded (empty: [`DEFAULT_STS_ENDPOINT`]).
    pub(crate) sts_endpoint: String,
    pub(crate) sts_region: String,
    /// Value the `X-Vault-AWS-IAM-Server-ID` header must have (empty: not checked).
    pub(crate) iam_server_id_header_value: String,
    /// Unsigned headers forwarded to STS besides the standard ones.
    pub(crate) allowed_sts_header_values: Vec<String>,
    /// -1: [`DEFAULT_MAX_RETRIES`].
    pub(crate) max_retries: i64,
    /// Forward to `https://sts.<region>.amazonaws.com` for the region the client signed for.
    pub(crate) use_sts_region_from_client: bool,
}

impl Default for ClientConfigRecord {
    fn default() -> Self {
        Self {
            version: RECORD_VERSION,
            access_key: String::new(),
            secret_key: Sensitive::default(),
            endpoint: String::new(),
            iam_endpoint: String::new(),
            sts_endpoint: String::new(),
            sts_region: String::new(),
            iam_server_id_header_value: String::new(),
            allowed_sts_header_values: Vec::new(),
            max_retries: -1,
            use_sts_region_from_client: false,
        }
    }
}

impl ClientConfigRecord {
    /// Retries after the first attempt.
    pub(crate) fn retries(&self) -> u32 {
        match u32::try_from(self.max_retries) {
            Ok(n) => n,
            Err(_) => DEFAULT_MAX_RETRIES,
        }
    }
}

/// The alias metadata fields `iam_metadata` may name.
pub(crate) const IAM_METADATA_FIELDS: &[&str] = &[
    "account_id",
    "auth_type",
    "canonical_arn",
    "client_arn",
    "client_user_id",
    "inferred_aws_region",
    "inferred_entity_id",
    "inferred_entity_type",
];

/// The alias metadata fields `ec2_metadata` may name (stored only: ec2 logins do not exist).
pub(crate) const EC2_METADATA_FIELDS: &[&str] =
    &["account_id", "ami_id", "auth_type", "instance_id", "region"];

/// What `iam_metadata` and `ec2_metadata` hold when not set.
pub(crate) const DEFAULT_METADATA: &[&str] = &["account_id", "auth_type"];

/// `config/identity`: how a login's alias is named and which metadata it carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct IdentityConfigRecord {
    pub(crate) version: u32,
    /// `role_id`, `unique_id`, `full_arn` or `canonical_arn`.
    pub(crate) iam_alias: String,
    pub(crate) iam_metadata: Vec<String>,
    pub(crate) ec2_alias: String,
    pub(crate) ec2_metadata: Vec<String>,
}

impl Default for IdentityConfigRecord {
    fn default() -> Self {
        let defaults: Vec<String> = DEFAULT_METADATA.iter().map(|s| s.to_string()).collect();
        Self {
            version: RECORD_VERSION,
            iam_alias: "role_id".into(),
            iam_metadata: defaults.clone(),
            ec2_alias: "role_id".into(),
            ec2_metadata: defaults,
        }
    }
}

/// `role/<name>`: who may log in through the role and what their token may do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RoleRecord {
    pub(crate) version: u32,
    /// Random, fixed at creation; the default alias name and a guard against a deleted and
    /// re-created role renewing old tokens.
    pub(crate) role_id: String,
    /// Always `iam`.
    pub(crate) auth_type: String,
    pub(crate) bound_iam_principal_arn: Vec<String>,
    #[serde(default)]
    pub(crate) token: TokenParams,
}

/// Storage key of role `name` (already lower-cased).
pub(crate) fn role_key(name: &str) -> Result<String, EngineError> {
    let key = format!("role/{name}");
    if name.is_empty() || name.contains('/') || validate_key(&key).is_err() {
        return Err(EngineError::bad_request(format!(
            "invalid role name {name:?}"
        )));
    }
    Ok(key)
}

/// Reads role `name`, `None` when there is none.
pub(crate) async fn load_role(
    storage: &StorageView,
    name: &str,
) -> Result<Option<RoleRecord>, EngineError> {
    Ok(storage.get_json(&role_key(name)?).await?)
}

/// Reads the client configuration, defaults when none was written.
pub(crate) async fn load_client_config(
    storage: &StorageView,
) -> Result<ClientConfigRecord, EngineError> {
    Ok(storage
        .get_json(CLIENT_CONFIG_KEY)
        .await?
        .unwrap_or_default())
}

/// Reads the identity configuration, defaults when none was written.
pub(crate) async fn load_identity_config(
    storage: &StorageView,
) -> Result<IdentityConfigRecord, EngineError> {
    Ok(storage
        .get_json(IDENTITY_CONFIG_KEY)
        .await?
        .unwrap_or_default())
}
