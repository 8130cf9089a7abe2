//! The user guide's environment variables, checked: `DATABASE_URL` and
//! `LEASE_CLEANUP_INTERVAL` for the server ([`ServerEnv`]), `LEASE_RENEWAL_THRESHOLD` and
//! `LEASE_RENEWAL_RETRIES` for the agent and `secrethub run` ([`AgentEnv`]).
//!
//! Nothing here reads the process environment: the composition root (the CLI's `Env`) hands
//! each variable's text in through a lookup function, and applies the result over the config
//! file (command-line flag, then environment, then file). An empty variable counts as unset.
//! Errors name the variable and never its value (`DATABASE_URL` holds a password).

use std::time::Duration;

use secrethub_common::{ErrorKind, Sensitive};

use crate::agent::LeaseRenewalConfig;
use crate::server_config::StorageConfig;

/// The shortest `LEASE_CLEANUP_INTERVAL`: a tighter poll of the due index buys nothing.
pub const MIN_LEASE_CLEANUP_INTERVAL: Duration = Duration::from_millis(100);
/// The longest `LEASE_CLEANUP_INTERVAL` (an hour).
pub const MAX_LEASE_CLEANUP_INTERVAL: Duration = Duration::from_secs(3600);

/// An environment variable with an unusable value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid environment variable {variable}: {reason}")]
pub struct EnvError {
    /// The variable's name.
    pub variable: &'static str,
    /// What is wrong, without the value.
    pub reason: String,
}

impl EnvError {
    /// Always the operator's input.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::BadRequest
    }
}

/// The server's variables; `None` where unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerEnv {
    /// `DATABASE_URL`: PostgreSQL storage, over the config file's `storage` stanza.
    pub storage: Option<StorageConfig>,
    /// `LEASE_CLEANUP_INTERVAL` (milliseconds): the longest the lease expiry scheduler sleeps
    /// before it looks at the due index again (default 1 s).
    pub lease_cleanup_interval: Option<Duration>,
}

impl ServerEnv {
    /// Reads the server's variables through `lookup` (name → value when set).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<ServerEnv, EnvError> {
        let get = |name| lookup(name).filter(|v| !v.trim().is_empty());
        let storage = get("DATABASE_URL")
            .map(|url| database_url(Sensitive::new(url)))
            .transpose()?;
        let lease_cleanup_interval = get("LEASE_CLEANUP_INTERVAL")
            .map(|v| lease_cleanup_interval(&v))
            .transpose()?;
        Ok(ServerEnv {
            storage,
            lease_cleanup_interval,
        })
    }
}

/// The agent's (and `secrethub run`'s) variables; `None` where unset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentEnv {
    /// `LEASE_RENEWAL_THRESHOLD`: [`LeaseRenewalConfig::renew_at`].
    pub renew_at: Option<f64>,
    /// `LEASE_RENEWAL_RETRIES`: [`LeaseRenewalConfig::max_attempts`].
    pub max_attempts: Option<u32>,
}

impl AgentEnv {
    /// Reads the agent's variables through `lookup` (name → value when set).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<AgentEnv, EnvError> {
        let get = |name| lookup(name).filter(|v| !v.trim().is_empty());
        let renew_at = get("LEASE_RENEWAL_THRESHOLD")
            .map(|v| {
                parse_fraction(&v).ok_or_else(|| EnvError {
                    variable: "LEASE_RENEWAL_THRESHOLD",
                    reason: "must be a fraction between 0 and 1 such as 0.33 (renew when a \
                             third of the lease is left), or a percentage such as 33%"
                        .to_owned(),
                })
            })
            .transpose()?;
        let max_attempts = get("LEASE_RENEWAL_RETRIES")
            .map(|v| match v.trim().parse::<u32>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(EnvError {
                    variable: "LEASE_RENEWAL_RETRIES",
                    reason: "must be a positive integer".to_owned(),
                }),
            })
            .transpose()?;
        Ok(AgentEnv {
            renew_at,
            max_attempts,
        })
    }

    /// The config file's `lease_renewal {}` with the variables that are set put over it.
    pub fn apply(&self, renewal: &mut LeaseRenewalConfig) {
        if let Some(renew_at) = self.renew_at {
            renewal.renew_at = renew_at;
        }
        if let Some(max_attempts) = self.max_attempts {
            renewal.max_attempts = max_attempts;
        }
    }
}

/// A fraction strictly between 0 and 1, written `0.33` or `33%` (`renew_at` of the file too).
pub(crate) fn parse_fraction(text: &str) -> Option<f64> {
    let text = text.trim();
    let fraction = match text.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().ok()? / 100.0,
        None => text.parse::<f64>().ok()?,
    };
    (fraction > 0.0 && fraction < 1.0).then_some(fraction)
}

/// `postgres://` or `postgresql://` URLs only: the variable is a common one, and a MySQL or
/// SQLite URL meant for another program must not be taken for ours.
fn database_url(url: Sensitive<String>) -> Result<StorageConfig, EnvError> {
    let text = url.expose().trim();
    let scheme_ok = ["postgres://", "postgresql://"]
        .iter()
        .any(|scheme| text.len() > scheme.len() && text.starts_with(scheme));
    if !scheme_ok {
        return Err(EnvError {
            variable: "DATABASE_URL",
            reason: "must be a PostgreSQL URL such as postgresql://user:password@host:5432/db"
                .to_owned(),
        });
    }
    Ok(StorageConfig::Postgres {
        connection_url: Sensitive::new(text.to_owned()),
        table: None,
        max_parallel: None,
    })
}

/// Milliseconds, as the user guide writes it (`10000`), within the bounds above.
fn lease_cleanup_interval(text: &str) -> Result<Duration, EnvError> {
    let interval = text.trim().parse::<u64>().ok().map(Duration::from_millis);
    match interval {
        Some(d) if (MIN_LEASE_CLEANUP_INTERVAL..=MAX_LEASE_CLEANUP_INTERVAL).contains(&d) => Ok(d),
        _ => Err(EnvError {
            variable: "LEASE_CLEANUP_INTERVAL",
            reason: format!(
                "must be a number of milliseconds from {} to {}",
                MIN_LEASE_CLEANUP_INTERVAL.as_millis(),
                MAX_LEASE_CLEANUP_INTERVAL.as_millis()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn server_variables_parse_and_unset_or_empty_means_none() {
        assert_eq!(
            ServerEnv::from_lookup(lookup(&[])),
            Ok(ServerEnv::default())
        );
        let empty = [("DATABASE_URL", ""), ("LEASE_CLEANUP_INTERVAL", " ")];
        assert_eq!(
            ServerEnv::from_lookup(lookup(&empty)),
            Ok(ServerEnv::default())
        );
        let env = ServerEnv::from_lookup(lookup(&[
            (
                "DATABASE_URL",
                "postgresql://secrethub:pw@localhost:5432/secrethub_dev",
            ),
            ("LEASE_CLEANUP_INTERVAL", "10000"),
        ]))
        .unwrap();
        let Some(StorageConfig::Postgres {
            connection_url,
            table: None,
            max_parallel: None,
        }) = &env.storage
        else {
            panic!("{env:?}");
        };
        assert_eq!(
            connection_url.expose(),
            "postgresql://secrethub:pw@localhost:5432/secrethub_dev"
        );
        assert_eq!(env.lease_cleanup_interval, Some(Duration::from_secs(10)));
        assert!(!format!("{env:?}").contains("pw@"), "{env:?}");
    }

    #[test]
    fn bad_server_values_name_the_variable_not_the_value() {
        for (name, value) in [
            ("DATABASE_URL", "mysql://root:hunter2@db/app"),
            ("DATABASE_URL", "postgres:/db.internal/app"),
            ("LEASE_CLEANUP_INTERVAL", "10s"),
            ("LEASE_CLEANUP_INTERVAL", "50"),
            ("LEASE_CLEANUP_INTERVAL", "3600001"),
            ("LEASE_CLEANUP_INTERVAL", "-1"),
        ] {
            let err = ServerEnv::from_lookup(lookup(&[(name, value)])).unwrap_err();
            assert_eq!(err.variable, name);
            let text = err.to_string();
            assert!(text.starts_with(&format!("invalid environment variable {name}: ")));
            assert!(!text.contains(value), "{text}");
        }
        assert!(ServerEnv::from_lookup(lookup(&[("LEASE_CLEANUP_INTERVAL", "100")])).is_ok());
    }

    #[test]
    fn agent_variables_parse_and_apply_over_the_file() {
        let env = AgentEnv::from_lookup(lookup(&[
            ("LEASE_RENEWAL_THRESHOLD", "0.5"),
            ("LEASE_RENEWAL_RETRIES", "9"),
        ]))
        .unwrap();
        let mut renewal = LeaseRenewalConfig {
            renew_at: 0.2,
            max_attempts: 2,
            ..LeaseRenewalConfig::default()
        };
        env.apply(&mut renewal);
        assert_eq!((renewal.renew_at, renewal.max_attempts), (0.5, 9));
        // Unset variables leave the file's values.
        let mut renewal = LeaseRenewalConfig {
            renew_at: 0.2,
            ..LeaseRenewalConfig::default()
        };
        let percent = AgentEnv::from_lookup(lookup(&[("LEASE_RENEWAL_THRESHOLD", "33%")]));
        assert_eq!(percent.unwrap().renew_at, Some(0.33));
        AgentEnv::default().apply(&mut renewal);
        assert_eq!(renewal.renew_at, 0.2);
        for (name, value) in [
            ("LEASE_RENEWAL_THRESHOLD", "1"),
            ("LEASE_RENEWAL_THRESHOLD", "0"),
            ("LEASE_RENEWAL_THRESHOLD", "third"),
            ("LEASE_RENEWAL_RETRIES", "0"),
            ("LEASE_RENEWAL_RETRIES", "-3"),
            ("LEASE_RENEWAL_RETRIES", "five"),
        ] {
            let err = AgentEnv::from_lookup(lookup(&[(name, value)])).unwrap_err();
            assert_eq!(err.variable, name, "{value}");
        }
    }
}
