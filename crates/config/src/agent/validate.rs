//! The validated layer's entry point, [`AgentConfig::from_raw`], and the stanzas without a
//! module of their own: `vault`, `cache`/`api_proxy`, `listener`, `lease_renewal`, `template`
//! and `template_config`. Values get their meaning and defaults here; whatever involves more
//! than one value (TLS files, backoff order, one template source) is checked here too.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use secrethub_common::format_duration;
use secrethub_common::serde_helpers::value_to_bool;
use serde_json::Value;

use super::auto_auth::auto_auth;
use super::provider::providers;
use super::raw::{
    RawAgentConfig, RawAgentListener, RawApiProxy, RawCache, RawLeaseRenewal, RawTemplate,
    RawTemplateConfig, RawVault,
};
use super::types::{
    AgentConfig, AgentListener, LeaseRenewalConfig, ServerConnection, TemplateConfig,
    TemplateSettings, TemplateSource,
};
use super::values::{boolean, delay, http_url, integer, kv_mount, line_of, mode, path, text};
use crate::error::{ConfigError, Problem};
use crate::raw::Spanned;
use crate::server_config::invalid;
use crate::server_config::tls_file_pair;

/// Vault Agent's default for `vault { retry { num_retries } }`.
pub const DEFAULT_NUM_RETRIES: u32 = 12;

/// The most retries `num_retries` accepts.
const MAX_NUM_RETRIES: i64 = 1000;

/// The permission bits of a rendered template unless `perms` says otherwise.
pub const DEFAULT_TEMPLATE_PERMS: u32 = 0o600;

impl AgentConfig {
    /// Checks a raw config and applies defaults; `base_dir` (the config file's directory)
    /// anchors relative paths.
    pub(crate) fn from_raw(raw: RawAgentConfig, base_dir: &Path) -> Result<Self, ConfigError> {
        let server = vault(raw.vault, base_dir)?;
        let auto_auth = raw
            .auto_auth
            .map(|stanza| auto_auth(stanza, base_dir))
            .transpose()?;
        let use_auto_auth_token = use_auto_auth_token(raw.cache.as_ref(), raw.api_proxy)?;
        let listeners = listeners(raw.listener, base_dir)?;
        let lease_renewal = lease_renewal(raw.lease_renewal)?;
        let templates = raw
            .template
            .into_iter()
            .map(|t| template(t, base_dir))
            .collect::<Result<_, _>>()?;
        let template_settings = template_settings(raw.template_config)?;
        let providers = providers(raw.provider, base_dir)?;
        let exit_after_auth = boolean(&raw.exit_after_auth, None, "exit_after_auth")?;
        Ok(Self {
            server,
            auto_auth,
            cache: raw.cache.is_some(),
            use_auto_auth_token,
            listeners,
            lease_renewal,
            templates,
            template_settings,
            providers,
            exit_after_auth: exit_after_auth.unwrap_or(false),
        })
    }
}

fn vault(raw: Option<Spanned<RawVault>>, base_dir: &Path) -> Result<ServerConnection, ConfigError> {
    let raw = raw.map(|stanza| stanza.value).unwrap_or_default();
    let stanza = Some("vault");
    let address = raw
        .address
        .map(|a| http_url(&a, stanza, "address", "https://127.0.0.1:8200"))
        .transpose()?;
    let num_retries = match raw.retry {
        // Vault's meaning: 0 is the default, -1 turns retries off.
        Some(retry) => {
            match integer(
                &retry.value.num_retries,
                Some("retry"),
                "num_retries",
                -1,
                MAX_NUM_RETRIES,
            )? {
                Some(-1) => 0,
                Some(n) => u32::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .unwrap_or(DEFAULT_NUM_RETRIES),
                None => DEFAULT_NUM_RETRIES,
            }
        }
        None => DEFAULT_NUM_RETRIES,
    };
    Ok(ServerConnection {
        address,
        ca_cert: raw
            .ca_cert
            .map(|c| path(&c, base_dir, stanza, "ca_cert"))
            .transpose()?,
        tls_skip_verify: boolean(&raw.tls_skip_verify, stanza, "tls_skip_verify")?.unwrap_or(false),
        num_retries,
        default_kv_mount: kv_mount(raw.default_kv_mount, stanza)?,
    })
}

/// `api_proxy { use_auto_auth_token }`, or Vault's older `cache { use_auto_auth_token }`;
/// like Vault, not both.
fn use_auto_auth_token(
    cache: Option<&Spanned<RawCache>>,
    api_proxy: Option<Spanned<RawApiProxy>>,
) -> Result<bool, ConfigError> {
    let in_cache = cache.and_then(|c| c.value.use_auto_auth_token.as_ref());
    let in_proxy = api_proxy.and_then(|p| p.value.use_auto_auth_token);
    let (raw, stanza) = match (in_cache, &in_proxy) {
        (Some(_), Some(proxy)) => {
            let reason = "is also given in the cache stanza; keep only this one".to_owned();
            return Err(invalid(
                proxy.line,
                Some("api_proxy"),
                "use_auto_auth_token",
                reason,
            ));
        }
        (Some(cache), None) => (cache, "cache"),
        (None, Some(proxy)) => (proxy, "api_proxy"),
        (None, None) => return Ok(false),
    };
    match &raw.value {
        // "force" also sends the agent's token in place of one the request carries; the
        // agent does not tell the two apart.
        Value::String(s) if s.trim().eq_ignore_ascii_case("force") => Ok(true),
        Value::Null => Ok(false),
        value => value_to_bool(value).ok_or_else(|| {
            let reason = "must be true, false or \"force\"".to_owned();
            invalid(raw.line, Some(stanza), "use_auto_auth_token", reason)
        }),
    }
}

fn listeners(
    stanzas: Vec<Spanned<RawAgentListener>>,
    base_dir: &Path,
) -> Result<Vec<AgentListener>, ConfigError> {
    let mut listeners: Vec<(AgentListener, Option<usize>)> = Vec::new();
    for stanza in stanzas {
        let (listener, name, address_line) = match stanza.value {
            RawAgentListener::Tcp(tcp) => {
                let name = "listener \"tcp\"";
                let address: SocketAddr = tcp.address.value.trim().parse().map_err(|_| {
                    let reason = format!(
                        "{:?} is not an IP address and port such as 127.0.0.1:8100",
                        tcp.address.value
                    );
                    invalid(tcp.address.line, Some(name), "address", reason)
                })?;
                let tls_disable =
                    boolean(&tcp.tls_disable, Some(name), "tls_disable")?.unwrap_or(false);
                let tls = if tls_disable {
                    None
                } else {
                    let pair = tls_file_pair(&tcp.tls_cert_file, &tcp.tls_key_file, base_dir)
                        .map_err(|problem| ConfigError::at(stanza.line, Some(name), problem))?;
                    Some(pair)
                };
                let listener = AgentListener::Tcp { address, tls };
                (listener, name, tcp.address.line)
            }
            RawAgentListener::Unix(unix) => {
                let name = "listener \"unix\"";
                let path = path(&unix.address, base_dir, Some(name), "address")?;
                (AgentListener::Unix { path }, name, unix.address.line)
            }
        };
        let clash = |other: &AgentListener| match (other, &listener) {
            // Port 0 asks the OS for a free port, so two of them don't clash.
            (AgentListener::Tcp { address: a, .. }, AgentListener::Tcp { address: b, .. }) => {
                a == b && a.port() != 0
            }
            (AgentListener::Unix { path: a }, AgentListener::Unix { path: b }) => a == b,
            _ => false,
        };
        if let Some((_, first_line)) = listeners.iter().find(|(other, _)| clash(other)) {
            let address = match &listener {
                AgentListener::Tcp { address, .. } => address.to_string(),
                AgentListener::Unix { path } => path.display().to_string(),
            };
            let problem = Problem::DuplicateListener {
                address,
                first_line: *first_line,
            };
            return Err(ConfigError::at(address_line, Some(name), problem));
        }
        listeners.push((listener, stanza.line));
    }
    Ok(listeners.into_iter().map(|(l, _)| l).collect())
}

fn lease_renewal(raw: Option<Spanned<RawLeaseRenewal>>) -> Result<LeaseRenewalConfig, ConfigError> {
    let defaults = LeaseRenewalConfig::default();
    let Some(Spanned { line, value: raw }) = raw else {
        return Ok(defaults);
    };
    let stanza = Some("lease_renewal");
    let max_attempts = integer(
        &raw.max_attempts,
        stanza,
        "max_attempts",
        1,
        i64::from(u32::MAX),
    )?
    // In range 1..=u32::MAX, so the conversion holds.
    .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    let config = LeaseRenewalConfig {
        renew_at: renew_at(&raw.renew_at)?.unwrap_or(defaults.renew_at),
        max_attempts: max_attempts.unwrap_or(defaults.max_attempts),
        backoff_initial: delay(&raw.backoff_initial, stanza, "backoff_initial", false)?
            .unwrap_or(defaults.backoff_initial),
        backoff_max: delay(&raw.backoff_max, stanza, "backoff_max", false)?
            .unwrap_or(defaults.backoff_max),
        grace: delay(&raw.grace, stanza, "grace", true)?.unwrap_or(defaults.grace),
        on_failed: raw
            .on_failed
            .map(|cmd| text(cmd, stanza, "on_failed"))
            .transpose()?,
    };
    if config.backoff_initial > config.backoff_max {
        // Blame whichever of the two was written, preferring backoff_initial; else the stanza.
        let line = line_of(&raw.backoff_initial)
            .or(line_of(&raw.backoff_max))
            .or(line);
        let problem = Problem::ValueOrder {
            lower_key: "backoff_initial".to_owned(),
            lower: show(config.backoff_initial),
            upper_key: "backoff_max".to_owned(),
            upper: show(config.backoff_max),
        };
        return Err(ConfigError::at(line, stanza, problem));
    }
    Ok(config)
}

/// A fraction strictly between 0 and 1, as a number (`0.33`) or a string (`"0.33"`, `"33%"`).
fn renew_at(raw: &Option<Spanned<Value>>) -> Result<Option<f64>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let fraction = match &raw.value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_f64(),
        Value::String(s) => crate::env::parse_fraction(s),
        _ => None,
    };
    match fraction {
        Some(f) if f > 0.0 && f < 1.0 => Ok(Some(f)),
        _ => {
            let reason = "must be a fraction between 0 and 1 such as 0.33, or a percentage \
                          such as \"33%\""
                .to_owned();
            Err(invalid(raw.line, Some("lease_renewal"), "renew_at", reason))
        }
    }
}

fn template(raw: Spanned<RawTemplate>, base_dir: &Path) -> Result<TemplateConfig, ConfigError> {
    let Spanned { line, value: raw } = raw;
    let stanza = Some("template");
    let source = match (raw.source, raw.contents) {
        (Some(source), None) => TemplateSource::File(path(&source, base_dir, stanza, "source")?),
        (None, Some(contents)) => TemplateSource::Inline(contents.value),
        (source, contents) => {
            let found = usize::from(source.is_some()) + usize::from(contents.is_some());
            // Both given: blame the later one; neither: the stanza.
            let line = line_of(&source).max(line_of(&contents)).or(line);
            let problem = Problem::OneOf {
                keys: vec!["source", "contents"],
                found,
            };
            return Err(ConfigError::at(line, stanza, problem));
        }
    };
    // Accepted for Vault configs, but must still be a boolean: a missing key is always an
    // error here, whatever it says.
    boolean(&raw.error_on_missing_key, stanza, "error_on_missing_key")?;
    Ok(TemplateConfig {
        source,
        destination: path(&raw.destination, base_dir, stanza, "destination")?,
        perms: mode(&raw.perms, stanza, "perms")?.unwrap_or(DEFAULT_TEMPLATE_PERMS),
        command: raw
            .command
            .map(|cmd| text(cmd, stanza, "command"))
            .transpose()?,
    })
}

fn template_settings(
    raw: Option<Spanned<RawTemplateConfig>>,
) -> Result<TemplateSettings, ConfigError> {
    let defaults = TemplateSettings::default();
    let Some(raw) = raw.map(|stanza| stanza.value) else {
        return Ok(defaults);
    };
    let stanza = Some("template_config");
    Ok(TemplateSettings {
        static_secret_render_interval: delay(
            &raw.static_secret_render_interval,
            stanza,
            "static_secret_render_interval",
            false,
        )?
        .unwrap_or(defaults.static_secret_render_interval),
        exit_on_retry_failure: boolean(
            &raw.exit_on_retry_failure,
            stanza,
            "exit_on_retry_failure",
        )?
        .unwrap_or(defaults.exit_on_retry_failure),
    })
}

/// Vault's formatting, which is to the second; a delay with a fraction (`"500ms"`) is shown
/// as Rust does, since "0s" would make `backoff_initial (1s) must not exceed backoff_max (0s)`
/// look wrong.
fn show(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format_duration(d)
    } else {
        format!("{d:?}")
    }
}
