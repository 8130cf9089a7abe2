//! `auto_auth { method "TYPE" { mount_path, config = { … } }  sink "file" { config = { … } } }`
//! validated into an [`AutoAuthConfig`]: exactly one method, its mount path (default
//! `auth/<type>`), its config's paths anchored at the config file's directory, and the sinks.

use std::path::{Path, PathBuf};

use super::raw::{RawAutoAuth, RawMethod, RawSink};
use super::types::{AuthMethodConfig, AutoAuthConfig, SinkConfig};
use super::values::{boolean, mode, opt_path, path, text};
use crate::error::{ConfigError, Problem};
use crate::raw::Spanned;
use crate::server_config::invalid;

/// Where a Kubernetes pod finds its service account token.
pub const DEFAULT_KUBERNETES_TOKEN_PATH: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The mode of a sink file unless `mode` says otherwise (Vault's is 0640; a token is only the
/// agent user's business).
pub const DEFAULT_SINK_MODE: u32 = 0o600;

/// Validates the stanza; `base_dir` anchors relative paths.
pub(super) fn auto_auth(
    raw: Spanned<RawAutoAuth>,
    base_dir: &Path,
) -> Result<AutoAuthConfig, ConfigError> {
    let Some(method) = raw.value.method else {
        let problem = Problem::MissingStanza {
            stanza: "method".to_owned(),
            example: "method \"approle\" { config = { ... } }".to_owned(),
        };
        return Err(ConfigError::at(raw.line, Some("auto_auth"), problem));
    };
    let (method, mount_path) = match method.value {
        RawMethod::TokenFile(m) => {
            let stanza = Some("method \"token_file\"");
            let mount_path = mount_path(m.mount_path, stanza, "auth/token")?;
            let config = m.config.value;
            let method = AuthMethodConfig::TokenFile {
                token_file_path: path(
                    &config.token_file_path,
                    base_dir,
                    stanza,
                    "token_file_path",
                )?,
            };
            (method, mount_path)
        }
        RawMethod::AppRole(m) => {
            let stanza = Some("method \"approle\"");
            let mount_path = mount_path(m.mount_path, stanza, "auth/approle")?;
            let config = m.config.value;
            let remove = "remove_secret_id_file_after_reading";
            let method = AuthMethodConfig::AppRole {
                role_id_file_path: path(
                    &config.role_id_file_path,
                    base_dir,
                    stanza,
                    "role_id_file_path",
                )?,
                secret_id_file_path: opt_path(
                    &config.secret_id_file_path,
                    base_dir,
                    stanza,
                    "secret_id_file_path",
                )?,
                // Vault's default: a secret ID is meant to be used once.
                remove_secret_id_file_after_reading: boolean(
                    &config.remove_secret_id_file_after_reading,
                    stanza,
                    remove,
                )?
                .unwrap_or(true),
            };
            (method, mount_path)
        }
        RawMethod::Jwt(m) => {
            let stanza = Some("method \"jwt\"");
            let mount_path = mount_path(m.mount_path, stanza, "auth/jwt")?;
            let config = m.config.value;
            let method = AuthMethodConfig::Jwt {
                path: path(&config.path, base_dir, stanza, "path")?,
                role: text(config.role, stanza, "role")?,
            };
            (method, mount_path)
        }
        RawMethod::Kubernetes(m) => {
            let stanza = Some("method \"kubernetes\"");
            let mount_path = mount_path(m.mount_path, stanza, "auth/kubernetes")?;
            let config = m.config.value;
            let token_path = opt_path(&config.token_path, base_dir, stanza, "token_path")?
                .unwrap_or_else(|| PathBuf::from(DEFAULT_KUBERNETES_TOKEN_PATH));
            let method = AuthMethodConfig::Kubernetes {
                role: text(config.role, stanza, "role")?,
                token_path,
            };
            (method, mount_path)
        }
        RawMethod::Userpass(m) => {
            let stanza = Some("method \"userpass\"");
            let mount_path = mount_path(m.mount_path, stanza, "auth/userpass")?;
            let config = m.config.value;
            let method = AuthMethodConfig::Userpass {
                username: text(config.username, stanza, "username")?,
                password_file_path: path(
                    &config.password_file_path,
                    base_dir,
                    stanza,
                    "password_file_path",
                )?,
            };
            (method, mount_path)
        }
    };
    let sinks = raw
        .value
        .sink
        .into_iter()
        .map(|sink| self::sink(sink, base_dir))
        .collect::<Result<_, _>>()?;
    Ok(AutoAuthConfig {
        method,
        mount_path,
        sinks,
    })
}

/// `mount_path` without surrounding slashes (`"/auth/approle/"` is `auth/approle`), or the
/// method's default.
fn mount_path(
    raw: Option<Spanned<String>>,
    stanza: Option<&str>,
    default: &str,
) -> Result<String, ConfigError> {
    let Some(raw) = raw else {
        return Ok(default.to_owned());
    };
    let trimmed = raw.value.trim().trim_matches('/');
    if trimmed.is_empty() {
        let reason = format!("must name the method's mount, such as {default}");
        return Err(invalid(raw.line, stanza, "mount_path", reason));
    }
    if trimmed
        .split('/')
        .any(|part| part.is_empty() || part == "..")
    {
        let reason = "must be a mount path such as auth/approle".to_owned();
        return Err(invalid(raw.line, stanza, "mount_path", reason));
    }
    Ok(trimmed.to_owned())
}

fn sink(raw: Spanned<RawSink>, base_dir: &Path) -> Result<SinkConfig, ConfigError> {
    let RawSink::File(file) = raw.value;
    let stanza = Some("sink \"file\"");
    let config = file.config.value;
    Ok(SinkConfig {
        path: path(&config.path, base_dir, stanza, "path")?,
        mode: mode(&config.mode, stanza, "mode")?.unwrap_or(DEFAULT_SINK_MODE),
    })
}
