//! `provider "NAME" { type = "…", … }` stanzas validated into [`ProviderConfig`]s: names
//! (lowercase, unique, not the built-in `secrethub`), the common keys, the keys of the chosen
//! type (a key of another type is refused by name), and the links between providers
//! (`fallback` must reach a configured provider without going round in a loop).
//!
//! [`provider_type`] is the one table of provider type names and their aliases, used for
//! `type = "…"` here and for the `PROVIDER:` of references (`secrethub_providers`).

use std::collections::HashMap;
use std::path::Path;

use secrethub_common::Sensitive;

use super::raw::{Named, RawProvider};
use super::types::{
    AwsSmConfig, AzureKvConfig, FileFormat, FileProviderConfig, ProviderConfig, ProviderKind,
    RemoteVault, DEFAULT_PROVIDER_CACHE_MAX_ENTRIES, DEFAULT_PROVIDER_CACHE_TTL,
    DEFAULT_PROVIDER_TIMEOUT,
};
use super::values::{boolean, delay, http_url, integer, kv_mount, line_of, opt_path, path, text};
use crate::error::{ConfigError, Problem};
use crate::raw::Spanned;
use crate::server_config::invalid;

/// The built-in provider: the server of the `vault` stanza. No stanza may take its name.
pub const BUILTIN_PROVIDER: &str = "secrethub";

/// The values of `type`, in the order error messages list them.
const TYPES: [&str; 5] = ["secrethub", "vault", "aws-sm", "azure-kv", "file"];

/// Other names of provider types, as the integration story writes them
/// (`provider: 'aws-secrets' | 'azure-keyvault' | 'local-file'`): alias, then type.
pub const PROVIDER_TYPE_ALIASES: [(&str, &str); 3] = [
    ("aws-secrets", "aws-sm"),
    ("azure-keyvault", "azure-kv"),
    ("local-file", "file"),
];

/// The provider type `name` stands for: itself when it is a type, the type of an alias
/// (`aws-secrets` is `aws-sm`), `None` otherwise. Surrounding spaces are ignored.
pub fn provider_type(name: &str) -> Option<&'static str> {
    let name = name.trim();
    TYPES.iter().copied().find(|t| *t == name).or_else(|| {
        PROVIDER_TYPE_ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map(|(_, t)| *t)
    })
}

/// Where a checked provider's cross-references were written, for the checks that need all
/// providers at once.
struct Links {
    line: Option<usize>,
    fallback_line: Option<usize>,
    prefix_line: Option<usize>,
}

/// Validates every stanza, then the links between them.
pub(super) fn providers(
    raw: Vec<Spanned<Named<RawProvider>>>,
    base_dir: &Path,
) -> Result<Vec<ProviderConfig>, ConfigError> {
    let mut first_lines: HashMap<String, Option<usize>> = HashMap::new();
    let mut checked: Vec<(ProviderConfig, Links)> = Vec::new();
    for Spanned { line, value } in raw {
        let Named { name, body } = value;
        check_name(&name, line)?;
        if let Some(first_line) = first_lines.get(&name) {
            let problem = Problem::DuplicateName {
                stanza: "provider".to_owned(),
                name,
                first_line: *first_line,
            };
            return Err(ConfigError::at(line, None, problem));
        }
        first_lines.insert(name.clone(), line);
        let links = Links {
            line,
            fallback_line: line_of(&body.fallback),
            prefix_line: line_of(&body.prefix),
        };
        checked.push((provider(name, body, line, base_dir)?, links));
    }
    check_prefixes(&checked)?;
    check_fallbacks(&checked)?;
    Ok(checked.into_iter().map(|(provider, _)| provider).collect())
}

fn check_name(name: &str, line: Option<usize>) -> Result<(), ConfigError> {
    let reason = if name == BUILTIN_PROVIDER {
        "reserved for the built-in provider (the server of the vault stanza)"
    } else if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        "use lowercase letters, digits and '-'"
    } else {
        return Ok(());
    };
    let problem = Problem::InvalidName {
        stanza: "provider".to_owned(),
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    Err(ConfigError::at(line, None, problem))
}

/// A key that belongs to some types only: its name, its line and whether it is given, and
/// the types it belongs to.
type TypeKey = (&'static str, Option<usize>, bool, &'static [&'static str]);

/// The keys that belong to one type or two.
fn type_keys(p: &RawProvider) -> [TypeKey; 18] {
    const REMOTE: &[&str] = &["secrethub", "vault"];
    const AWS: &[&str] = &["aws-sm"];
    const AZURE: &[&str] = &["azure-kv"];
    const FILE: &[&str] = &["file"];
    macro_rules! key {
        ($field:ident, $types:expr) => {
            (
                stringify!($field),
                line_of(&p.$field),
                p.$field.is_some(),
                $types,
            )
        };
    }
    [
        key!(address, REMOTE),
        key!(token, REMOTE),
        key!(token_file, REMOTE),
        key!(ca_cert, REMOTE),
        key!(tls_skip_verify, REMOTE),
        key!(default_kv_mount, REMOTE),
        key!(region, AWS),
        key!(endpoint, AWS),
        key!(access_key_id, AWS),
        key!(secret_access_key, AWS),
        key!(session_token, AWS),
        key!(vault_url, AZURE),
        key!(tenant_id, AZURE),
        key!(client_id, AZURE),
        key!(client_secret, AZURE),
        key!(authority_host, AZURE),
        key!(path, FILE),
        key!(format, FILE),
    ]
}

fn provider(
    name: String,
    p: RawProvider,
    line: Option<usize>,
    base_dir: &Path,
) -> Result<ProviderConfig, ConfigError> {
    let stanza_name = format!("provider \"{name}\"");
    let stanza = Some(stanza_name.as_str());
    let Some(kind_name) = provider_type(&p.kind.value) else {
        let aliases: Vec<String> = PROVIDER_TYPE_ALIASES
            .iter()
            .map(|(alias, kind)| format!("{alias} = {kind}"))
            .collect();
        let reason = format!(
            "unknown provider type {:?}; supported: {} (aliases: {})",
            p.kind.value,
            TYPES.join(", "),
            aliases.join(", ")
        );
        return Err(invalid(p.kind.line, stanza, "type", reason));
    };
    let kind_name = kind_name.to_owned();
    // Report the first misplaced key in file order.
    let misplaced = type_keys(&p)
        .into_iter()
        .filter(|(_, _, given, types)| *given && !types.contains(&kind_name.as_str()))
        .min_by_key(|(_, line, _, _)| line.unwrap_or(usize::MAX));
    if let Some((key, key_line, _, _)) = misplaced {
        let problem = Problem::KeyNotForType {
            key: key.to_owned(),
            kind: kind_name,
        };
        return Err(ConfigError::at(key_line, stanza, problem));
    }
    let required = |key: &str| {
        let problem = Problem::MissingKeyForType {
            key: key.to_owned(),
            kind: kind_name.clone(),
        };
        ConfigError::at(line, stanza, problem)
    };
    let prefix = p
        .prefix
        .map(|prefix| text(prefix, stanza, "prefix"))
        .transpose()?;
    let fallback = p
        .fallback
        .map(|fallback| text(fallback, stanza, "fallback"))
        .transpose()?
        .map(|f| f.trim().to_owned());
    let timeout = delay(&p.timeout, stanza, "timeout", false)?.unwrap_or(DEFAULT_PROVIDER_TIMEOUT);
    // Zero turns the cache off.
    let cache_ttl =
        delay(&p.cache_ttl, stanza, "cache_ttl", true)?.unwrap_or(DEFAULT_PROVIDER_CACHE_TTL);
    let max_entries = integer(
        &p.cache_max_entries,
        stanza,
        "cache_max_entries",
        1,
        i64::from(u32::MAX),
    )?;
    let cache_max_entries = match max_entries {
        // In range 1..=u32::MAX, which fits usize on every platform we build for.
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => DEFAULT_PROVIDER_CACHE_MAX_ENTRIES,
    };
    let kind = match kind_name.as_str() {
        "secrethub" | "vault" => {
            let address = p.address.ok_or_else(|| required("address"))?;
            let remote = RemoteVault {
                address: http_url(
                    &address,
                    stanza,
                    "address",
                    "https://vault.example.com:8200",
                )?,
                token: token(p.token, &p.token_file, stanza)?,
                token_file: opt_path(&p.token_file, base_dir, stanza, "token_file")?,
                ca_cert: opt_path(&p.ca_cert, base_dir, stanza, "ca_cert")?,
                tls_skip_verify: boolean(&p.tls_skip_verify, stanza, "tls_skip_verify")?
                    .unwrap_or(false),
                default_kv_mount: kv_mount(p.default_kv_mount, stanza)?,
            };
            if kind_name == "vault" {
                ProviderKind::Vault(remote)
            } else {
                ProviderKind::SecretHub(remote)
            }
        }
        "aws-sm" => {
            let region = p.region.ok_or_else(|| required("region"))?;
            let region = aws_region(region, stanza)?;
            let endpoint = p
                .endpoint
                .map(|e| http_url(&e, stanza, "endpoint", "https://localhost:4566"))
                .transpose()?;
            check_aws_keys(
                &p.access_key_id,
                &p.secret_access_key,
                &p.session_token,
                stanza,
            )?;
            ProviderKind::AwsSecretsManager(AwsSmConfig {
                region,
                endpoint,
                access_key_id: p
                    .access_key_id
                    .map(|k| text(k, stanza, "access_key_id"))
                    .transpose()?,
                secret_access_key: p
                    .secret_access_key
                    .map(|k| nonempty_secret(k, stanza, "secret_access_key"))
                    .transpose()?,
                session_token: p
                    .session_token
                    .map(|t| nonempty_secret(t, stanza, "session_token"))
                    .transpose()?,
            })
        }
        "azure-kv" => {
            let vault_url = p.vault_url.ok_or_else(|| required("vault_url"))?;
            let tenant_id = p.tenant_id.ok_or_else(|| required("tenant_id"))?;
            let client_id = p.client_id.ok_or_else(|| required("client_id"))?;
            let client_secret = p.client_secret.ok_or_else(|| required("client_secret"))?;
            ProviderKind::AzureKeyVault(AzureKvConfig {
                vault_url: http_url(
                    &vault_url,
                    stanza,
                    "vault_url",
                    "https://my-vault.vault.azure.net",
                )?,
                tenant_id: text(tenant_id, stanza, "tenant_id")?,
                client_id: text(client_id, stanza, "client_id")?,
                client_secret: nonempty_secret(client_secret, stanza, "client_secret")?,
                authority_host: p
                    .authority_host
                    .map(|h| {
                        http_url(
                            &h,
                            stanza,
                            "authority_host",
                            "https://login.microsoftonline.com",
                        )
                    })
                    .transpose()?,
            })
        }
        _ => {
            // "file": the only type left after the check against `TYPES` above.
            let raw_path = p.path.ok_or_else(|| required("path"))?;
            let path = path(&raw_path, base_dir, stanza, "path")?;
            let format = match &p.format {
                Some(format) => file_format(format, stanza)?,
                None => match path.extension().and_then(|e| e.to_str()) {
                    Some("yaml" | "yml") => FileFormat::Yaml,
                    _ => FileFormat::Dotenv,
                },
            };
            ProviderKind::File(FileProviderConfig { path, format })
        }
    };
    Ok(ProviderConfig {
        name,
        prefix,
        fallback,
        timeout,
        cache_ttl,
        cache_max_entries,
        kind,
    })
}

/// A static token, which may not be given together with a token file.
fn token(
    token: Option<Spanned<Sensitive<String>>>,
    token_file: &Option<Spanned<String>>,
    stanza: Option<&str>,
) -> Result<Option<Sensitive<String>>, ConfigError> {
    let Some(token) = token else {
        return Ok(None);
    };
    if let Some(file) = token_file {
        let problem = Problem::OneOf {
            keys: vec!["token", "token_file"],
            found: 2,
        };
        return Err(ConfigError::at(token.line.max(file.line), stanza, problem));
    }
    nonempty_secret(token, stanza, "token").map(Some)
}

/// A secret that must not be blank; the value is never quoted.
fn nonempty_secret(
    raw: Spanned<Sensitive<String>>,
    stanza: Option<&str>,
    key: &str,
) -> Result<Sensitive<String>, ConfigError> {
    if raw.value.expose().trim().is_empty() {
        return Err(invalid(
            raw.line,
            stanza,
            key,
            "must not be empty".to_owned(),
        ));
    }
    Ok(raw.value)
}

/// Static AWS keys come as a pair; a session token only goes with them.
fn check_aws_keys(
    access_key_id: &Option<Spanned<String>>,
    secret_access_key: &Option<Spanned<Sensitive<String>>>,
    session_token: &Option<Spanned<Sensitive<String>>>,
    stanza: Option<&str>,
) -> Result<(), ConfigError> {
    let (given, line, reason) = match (access_key_id, secret_access_key) {
        (Some(id), None) => (
            "access_key_id",
            id.line,
            "needs \"secret_access_key\" as well",
        ),
        (None, Some(key)) => (
            "secret_access_key",
            key.line,
            "needs \"access_key_id\" as well",
        ),
        (None, None) if session_token.is_some() => (
            "session_token",
            line_of(session_token),
            "needs \"access_key_id\" and \"secret_access_key\" as well",
        ),
        _ => return Ok(()),
    };
    Err(invalid(line, stanza, given, reason.to_owned()))
}

/// An AWS region goes into the endpoint's host name, so only its characters get through.
fn aws_region(raw: Spanned<String>, stanza: Option<&str>) -> Result<String, ConfigError> {
    let region = raw.value.trim();
    let ok = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        return Ok(region.to_owned());
    }
    let reason = "must be an AWS region such as us-east-1".to_owned();
    Err(invalid(raw.line, stanza, "region", reason))
}

fn file_format(raw: &Spanned<String>, stanza: Option<&str>) -> Result<FileFormat, ConfigError> {
    match raw.value.trim().to_ascii_lowercase().as_str() {
        "yaml" | "yml" => Ok(FileFormat::Yaml),
        "dotenv" | "env" => Ok(FileFormat::Dotenv),
        _ => {
            let reason = format!("unknown format {:?}; supported: yaml, dotenv", raw.value);
            Err(invalid(raw.line, stanza, "format", reason))
        }
    }
}

/// Two providers with one prefix would make a reference's provider depend on file order.
fn check_prefixes(checked: &[(ProviderConfig, Links)]) -> Result<(), ConfigError> {
    for (i, (provider, links)) in checked.iter().enumerate() {
        let Some(prefix) = &provider.prefix else {
            continue;
        };
        if let Some((first, _)) = checked[..i]
            .iter()
            .find(|(other, _)| other.prefix.as_ref() == Some(prefix))
        {
            let stanza = format!("provider \"{}\"", provider.name);
            let reason = format!(
                "{prefix:?} is already the prefix of provider \"{}\"",
                first.name
            );
            return Err(invalid(links.prefix_line, Some(&stanza), "prefix", reason));
        }
    }
    Ok(())
}

/// Every fallback names another provider, and following fallbacks never comes back round.
fn check_fallbacks(checked: &[(ProviderConfig, Links)]) -> Result<(), ConfigError> {
    let fallback_of: HashMap<&str, Option<&str>> = checked
        .iter()
        .map(|(p, _)| (p.name.as_str(), p.fallback.as_deref()))
        .collect();
    for (provider, links) in checked {
        let Some(fallback) = provider.fallback.as_deref() else {
            continue;
        };
        let stanza = format!("provider \"{}\"", provider.name);
        let line = links.fallback_line.or(links.line);
        if fallback == provider.name {
            let reason = "a provider cannot fall back to itself".to_owned();
            return Err(invalid(line, Some(&stanza), "fallback", reason));
        }
        if fallback != BUILTIN_PROVIDER && !fallback_of.contains_key(fallback) {
            let others: Vec<&str> = std::iter::once(BUILTIN_PROVIDER)
                .chain(
                    checked
                        .iter()
                        .map(|(p, _)| p.name.as_str())
                        .filter(|n| *n != provider.name),
                )
                .collect();
            let reason = format!(
                "no provider is named {fallback:?}; configured: {}",
                others.join(", ")
            );
            return Err(invalid(line, Some(&stanza), "fallback", reason));
        }
        // Follow the chain; it ends at the built-in provider or at one without a fallback.
        let mut chain = vec![provider.name.as_str()];
        let mut next = Some(fallback);
        while let Some(name) = next {
            if chain.contains(&name) {
                chain.push(name);
                let reason = format!("fallbacks go round in a loop: {}", chain.join(" -> "));
                return Err(invalid(line, Some(&stanza), "fallback", reason));
            }
            chain.push(name);
            next = fallback_of.get(name).copied().flatten();
        }
    }
    Ok(())
}
