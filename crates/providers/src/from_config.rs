//! [`Providers::from_config`]: builds each `provider "NAME" {}` stanza of the agent
//! configuration and adds them in an order where every fallback comes before the providers
//! that use it, which is possible exactly when the fallbacks name known providers and form no
//! cycle.

use std::collections::HashSet;
use std::sync::Arc;

use secrethub_config::agent::{ProviderConfig, ProviderKind};

use crate::set::DEFAULT_PROVIDER;
use crate::{
    AwsSmProvider, AzureKvProvider, FileProvider, Provider, ProviderError, ProviderErrorKind,
    ProviderOptions, Providers, SecretHubProvider,
};

impl Providers {
    /// The default provider plus one provider per stanza. Fails on a duplicate or reserved
    /// name, a fallback that names no provider, a cycle of fallbacks, or a provider that
    /// cannot be set up (unreadable token file, CA file, missing AWS credentials).
    pub fn from_config(
        default: Arc<dyn Provider>,
        configs: &[ProviderConfig],
    ) -> Result<Providers, ProviderError> {
        let mut seen = HashSet::new();
        for config in configs {
            if config.name == DEFAULT_PROVIDER {
                return Err(invalid(
                    &config.name,
                    format!("the name {DEFAULT_PROVIDER:?} is reserved for the built-in provider"),
                ));
            }
            if !seen.insert(config.name.as_str()) {
                return Err(invalid(
                    &config.name,
                    format!("the provider name {:?} is used twice", config.name),
                ));
            }
        }
        for config in configs {
            if let Some(fallback) = &config.fallback {
                if fallback != DEFAULT_PROVIDER && !seen.contains(fallback.as_str()) {
                    return Err(invalid(
                        &config.name,
                        format!("unknown fallback provider {fallback:?}"),
                    ));
                }
            }
        }
        let mut providers = Providers::new(default);
        let mut pending: Vec<&ProviderConfig> = configs.iter().collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut waiting = Vec::new();
            for config in pending {
                let ready = config
                    .fallback
                    .as_deref()
                    .is_none_or(|f| providers.get(f).is_some());
                if ready {
                    providers.add(build(config)?, options(config))?;
                } else {
                    waiting.push(config);
                }
            }
            if waiting.len() == before {
                let names: Vec<&str> = waiting.iter().map(|c| c.name.as_str()).collect();
                return Err(invalid(
                    names[0],
                    format!("the fallbacks of providers {names:?} form a cycle"),
                ));
            }
            pending = waiting;
        }
        Ok(providers)
    }
}

fn invalid(name: &str, message: String) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Invalid, name, message)
}

fn options(config: &ProviderConfig) -> ProviderOptions {
    ProviderOptions {
        prefix: config.prefix.clone(),
        fallback: config.fallback.clone(),
        timeout: config.timeout,
        cache_ttl: config.cache_ttl,
        cache_max_entries: config.cache_max_entries,
        kind: Some(config.kind.type_name()),
    }
}

/// The provider of one stanza.
fn build(config: &ProviderConfig) -> Result<Arc<dyn Provider>, ProviderError> {
    let name = config.name.as_str();
    Ok(match &config.kind {
        ProviderKind::SecretHub(remote) | ProviderKind::Vault(remote) => {
            Arc::new(SecretHubProvider::from_remote(name, remote)?)
        }
        ProviderKind::AwsSecretsManager(aws) => Arc::new(AwsSmProvider::new(name, aws)?),
        ProviderKind::AzureKeyVault(azure) => Arc::new(AzureKvProvider::new(name, azure)?),
        ProviderKind::File(file) => Arc::new(FileProvider::new(name, file)),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrethub_config::agent::{FileFormat, FileProviderConfig};

    use super::*;

    fn file_config(name: &str, fallback: Option<&str>) -> ProviderConfig {
        ProviderConfig {
            name: name.to_string(),
            prefix: Some(format!("{name}/")),
            fallback: fallback.map(str::to_string),
            timeout: Duration::from_secs(1),
            cache_ttl: Duration::from_secs(1),
            cache_max_entries: 1,
            kind: ProviderKind::File(FileProviderConfig {
                path: format!("/nonexistent/{name}.env").into(),
                format: FileFormat::Dotenv,
            }),
        }
    }

    fn default() -> Arc<dyn Provider> {
        Arc::new(FileProvider::new(
            DEFAULT_PROVIDER,
            &FileProviderConfig {
                path: "/nonexistent/default.env".into(),
                format: FileFormat::Dotenv,
            },
        ))
    }

    fn error(configs: &[ProviderConfig]) -> String {
        match Providers::from_config(default(), configs) {
            Ok(_) => panic!("expected an error"),
            Err(err) => {
                assert_eq!(err.kind, ProviderErrorKind::Invalid);
                err.to_string()
            }
        }
    }

    #[test]
    fn fallbacks_may_come_later_in_the_file() {
        let set = Providers::from_config(
            default(),
            &[
                file_config("a", Some("b")),
                file_config("b", Some("secrethub")),
            ],
        )
        .expect("valid");
        assert_eq!(set.names(), ["secrethub", "b", "a"]);
    }

    #[test]
    fn bad_names_and_fallbacks_are_refused() {
        let dup = error(&[file_config("a", None), file_config("a", None)]);
        assert!(dup.contains("used twice"), "{dup}");
        let reserved = error(&[file_config("secrethub", None)]);
        assert!(reserved.contains("reserved"), "{reserved}");
        let unknown = error(&[file_config("a", Some("nope"))]);
        assert!(
            unknown.contains("unknown fallback provider \"nope\""),
            "{unknown}"
        );
        let cycle = error(&[
            file_config("a", Some("b")),
            file_config("b", Some("c")),
            file_config("c", Some("a")),
        ]);
        assert!(cycle.contains("form a cycle"), "{cycle}");
        let own = error(&[file_config("a", Some("a"))]);
        assert!(own.contains("form a cycle"), "{own}");
    }

    #[test]
    fn a_type_or_its_alias_reaches_the_one_provider_of_that_type() {
        let one = Providers::from_config(default(), &[file_config("dev", None)]).expect("valid");
        for name in ["dev", "file", "local-file"] {
            let (provider, path) = one.route(Some(name), "app.yaml").expect(name);
            assert_eq!((provider.name(), path.as_str()), ("dev", "app.yaml"));
        }
        let unknown = one
            .route(Some("aws-secrets"), "x")
            .err()
            .expect("no aws-sm");
        assert!(
            unknown.to_string().contains("none has type aws-sm"),
            "{unknown}"
        );
        let unknown = one.route(Some("nope"), "x").err().expect("no such name");
        assert!(
            unknown
                .to_string()
                .contains("no provider is called \"nope\""),
            "{unknown}"
        );
        // A provider's own name wins over a type; two of one type must be named.
        let two = Providers::from_config(
            default(),
            &[file_config("a", None), file_config("local-file", None)],
        )
        .expect("valid");
        let (named, _) = two.route(Some("local-file"), "x").expect("by name");
        assert_eq!(named.name(), "local-file");
        let ambiguous = two.route(Some("file"), "x").err().expect("ambiguous");
        assert!(
            ambiguous
                .to_string()
                .contains("several have type file (a, local-file)"),
            "{ambiguous}"
        );
    }
}
