//! Where the CLI connects and with which token: global flags, then `SECRETHUB_*`, then
//! `VAULT_*` environment variables, then defaults; plus the token helper file
//! `~/.secrethub-token` that `login` writes. The address: `-address`, `SECRETHUB_ADDR`,
//! `SECRETHUB_CORE_URL` (the user guide's name for it), `VAULT_ADDR`, then (agent, `run`,
//! `template render`) the config file's `vault { address }`, then `http://127.0.0.1:8200`.
//!
//! The user guide's other variables are captured here too and checked by
//! `secrethub_config` ([`Env::server`], [`Env::agent`]).
//!
//! The environment is read once into [`Env`], so resolution is a pure function that tests can
//! drive without touching the process environment.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrethub_client::ClientConfig;
use secrethub_common::Sensitive;

use crate::output::Format;

/// Default server address, as Vault's.
pub(crate) const DEFAULT_ADDR: &str = "http://127.0.0.1:8200";
/// File name of the token helper, in the home directory.
pub(crate) const TOKEN_HELPER_FILE: &str = ".secrethub-token";

/// Flags every command accepts (Vault spells them `-address`, `-format`, ...).
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct GlobalArgs {
    /// Server address [env: SECRETHUB_ADDR, SECRETHUB_CORE_URL, VAULT_ADDR] (default http://127.0.0.1:8200).
    #[arg(long, global = true, value_name = "ADDR")]
    pub(crate) address: Option<String>,
    /// PEM file of the CA that signed the server certificate [env: SECRETHUB_CACERT, VAULT_CACERT].
    #[arg(long = "ca-cert", global = true, value_name = "FILE")]
    pub(crate) ca_cert: Option<PathBuf>,
    /// Do not verify the server certificate [env: SECRETHUB_SKIP_VERIFY, VAULT_SKIP_VERIFY].
    #[arg(long = "tls-skip-verify", global = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_name = "BOOL")]
    pub(crate) tls_skip_verify: Option<bool>,
    /// Output format [env: SECRETHUB_FORMAT, VAULT_FORMAT] (default table).
    #[arg(long, global = true, value_enum)]
    pub(crate) format: Option<Format>,
}

/// The environment variables the CLI looks at, captured once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Env {
    vars: BTreeMap<String, String>,
}

/// Every variable [`Env`] captures; nothing else is read.
const ENV_NAMES: &[&str] = &[
    "SECRETHUB_ADDR",
    "SECRETHUB_CORE_URL",
    "VAULT_ADDR",
    "SECRETHUB_TOKEN",
    "VAULT_TOKEN",
    "SECRETHUB_CACERT",
    "VAULT_CACERT",
    "SECRETHUB_SKIP_VERIFY",
    "VAULT_SKIP_VERIFY",
    "SECRETHUB_FORMAT",
    "VAULT_FORMAT",
    "SECRETHUB_CLIENT_TIMEOUT",
    "VAULT_CLIENT_TIMEOUT",
    "HOME",
    "DATABASE_URL",
    "LEASE_CLEANUP_INTERVAL",
    "LEASE_RENEWAL_THRESHOLD",
    "LEASE_RENEWAL_RETRIES",
];

impl Env {
    /// Captures the variables in `ENV_NAMES` from the process.
    pub(crate) fn from_process() -> Env {
        let vars = ENV_NAMES
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v)))
            .collect();
        Env { vars }
    }

    /// An environment made of the given pairs (tests, embedding).
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Env {
        Env {
            vars: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The variable if set and non-empty.
    fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Our variable if set and non-empty, else Vault's.
    fn pick(&self, ours: &str, vaults: &str) -> Option<&str> {
        self.get(ours).or_else(|| self.get(vaults))
    }

    /// `DATABASE_URL` and `LEASE_CLEANUP_INTERVAL`, checked.
    pub(crate) fn server(&self) -> Result<secrethub_config::ServerEnv, secrethub_config::EnvError> {
        secrethub_config::ServerEnv::from_lookup(|name| self.get(name).map(str::to_string))
    }

    /// `LEASE_RENEWAL_THRESHOLD` and `LEASE_RENEWAL_RETRIES`, checked.
    pub(crate) fn agent(&self) -> Result<secrethub_config::AgentEnv, secrethub_config::EnvError> {
        secrethub_config::AgentEnv::from_lookup(|name| self.get(name).map(str::to_string))
    }

    /// Where the token helper file lives, when a home directory is known.
    pub(crate) fn token_helper_path(&self) -> Option<PathBuf> {
        let home = self.vars.get("HOME").filter(|h| !h.is_empty())?;
        Some(Path::new(home).join(TOKEN_HELPER_FILE))
    }

    /// The token from the environment, if any.
    pub(crate) fn token(&self) -> Option<Sensitive<String>> {
        self.pick("SECRETHUB_TOKEN", "VAULT_TOKEN")
            .map(|t| Sensitive::new(t.trim().to_string()))
    }
}

/// The output format: flag, then environment, then table.
pub(crate) fn resolve_format(global: &GlobalArgs, env: &Env) -> Result<Format, String> {
    if let Some(format) = global.format {
        return Ok(format);
    }
    match env.pick("SECRETHUB_FORMAT", "VAULT_FORMAT") {
        None => Ok(Format::Table),
        Some(v) if v.eq_ignore_ascii_case("table") => Ok(Format::Table),
        Some(v) if v.eq_ignore_ascii_case("json") => Ok(Format::Json),
        Some(v) => Err(format!("Invalid output format: {v}")),
    }
}

/// The address the flag or the environment gives, which wins over a config file's: `-address`,
/// `SECRETHUB_ADDR`, `SECRETHUB_CORE_URL`, `VAULT_ADDR`.
pub(crate) fn explicit_address(global: &GlobalArgs, env: &Env) -> Option<String> {
    global.address.clone().or_else(|| {
        env.get("SECRETHUB_ADDR")
            .or_else(|| env.get("SECRETHUB_CORE_URL"))
            .or_else(|| env.get("VAULT_ADDR"))
            .map(str::to_string)
    })
}

/// Everything the client needs; the token comes from the environment, else the token helper.
pub(crate) fn client_config(global: &GlobalArgs, env: &Env) -> Result<ClientConfig, String> {
    let addr = explicit_address(global, env).unwrap_or_else(|| DEFAULT_ADDR.to_string());
    let ca_cert = global.ca_cert.clone().or_else(|| {
        env.pick("SECRETHUB_CACERT", "VAULT_CACERT")
            .map(PathBuf::from)
    });
    let insecure_skip_verify = match global.tls_skip_verify {
        Some(flag) => flag,
        None => match env.pick("SECRETHUB_SKIP_VERIFY", "VAULT_SKIP_VERIFY") {
            None => false,
            Some(v) => parse_bool(v)
                .ok_or_else(|| format!("invalid boolean in VAULT_SKIP_VERIFY: {v:?}"))?,
        },
    };
    let timeout = match env.pick("SECRETHUB_CLIENT_TIMEOUT", "VAULT_CLIENT_TIMEOUT") {
        None => Duration::from_secs(60),
        Some(v) => {
            secrethub_common::parse_duration(v).map_err(|e| format!("VAULT_CLIENT_TIMEOUT: {e}"))?
        }
    };
    let token = env
        .token()
        .or_else(|| env.token_helper_path().and_then(|p| read_token_helper(&p)));
    Ok(ClientConfig {
        addr,
        token,
        ca_cert,
        insecure_skip_verify,
        timeout,
    })
}

/// Go's `strconv.ParseBool`, which Vault uses for boolean variables.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The stored token, or `None` when the file is missing, unreadable or empty.
pub(crate) fn read_token_helper(path: &Path) -> Option<Sensitive<String>> {
    let raw = Sensitive::new(std::fs::read_to_string(path).ok()?);
    let token = raw.expose().trim();
    (!token.is_empty()).then(|| Sensitive::new(token.to_string()))
}

/// Stores `token` with mode 0600: written to a private temporary file first, then renamed over
/// the old one, so no reader ever sees a half-written token or a world-readable file.
pub(crate) fn write_token_helper(path: &Path, token: &Sensitive<String>) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!("{TOKEN_HELPER_FILE}.tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(token.expose().as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_precedence_flag_then_ours_then_vaults_then_default() {
        let flag = GlobalArgs {
            address: Some("http://flag:1".into()),
            ..GlobalArgs::default()
        };
        let both = Env::from_pairs(&[
            ("SECRETHUB_ADDR", "http://ours:2"),
            ("VAULT_ADDR", "http://vault:3"),
        ]);
        assert_eq!(client_config(&flag, &both).unwrap().addr, "http://flag:1");
        let none = GlobalArgs::default();
        assert_eq!(client_config(&none, &both).unwrap().addr, "http://ours:2");
        let vault = Env::from_pairs(&[("SECRETHUB_ADDR", ""), ("VAULT_ADDR", "http://vault:3")]);
        assert_eq!(client_config(&none, &vault).unwrap().addr, "http://vault:3");
        assert_eq!(
            client_config(&none, &Env::default()).unwrap().addr,
            DEFAULT_ADDR
        );
        // The user guide's SECRETHUB_CORE_URL: below SECRETHUB_ADDR, above VAULT_ADDR.
        let core = Env::from_pairs(&[
            ("SECRETHUB_CORE_URL", "http://core:4"),
            ("VAULT_ADDR", "http://vault:3"),
        ]);
        assert_eq!(client_config(&none, &core).unwrap().addr, "http://core:4");
        assert_eq!(client_config(&flag, &core).unwrap().addr, "http://flag:1");
        let all = Env::from_pairs(&[
            ("SECRETHUB_ADDR", "http://ours:2"),
            ("SECRETHUB_CORE_URL", "http://core:4"),
        ]);
        assert_eq!(client_config(&none, &all).unwrap().addr, "http://ours:2");
        assert_eq!(explicit_address(&none, &Env::default()), None);
    }

    #[test]
    fn the_user_guides_variables_are_checked_and_named_in_errors() {
        let env = Env::from_pairs(&[
            ("DATABASE_URL", "postgresql://u:pw@db/secrethub"),
            ("LEASE_CLEANUP_INTERVAL", "10000"),
            ("LEASE_RENEWAL_THRESHOLD", "0.33"),
            ("LEASE_RENEWAL_RETRIES", "5"),
        ]);
        let server = env.server().unwrap();
        assert!(server.storage.is_some());
        assert_eq!(server.lease_cleanup_interval, Some(Duration::from_secs(10)));
        let agent = env.agent().unwrap();
        assert_eq!((agent.renew_at, agent.max_attempts), (Some(0.33), Some(5)));
        let bad = Env::from_pairs(&[("LEASE_RENEWAL_RETRIES", "lots")]);
        assert!(bad
            .agent()
            .unwrap_err()
            .to_string()
            .contains("LEASE_RENEWAL_RETRIES"));
        let bad = Env::from_pairs(&[("DATABASE_URL", "sqlite:///tmp/x.db")]);
        assert!(bad
            .server()
            .unwrap_err()
            .to_string()
            .contains("DATABASE_URL"));
    }

    #[test]
    fn token_from_env_then_helper_file() {
        let home = tempfile::tempdir().unwrap();
        let home_str = home.path().to_str().unwrap();
        let path = home.path().join(TOKEN_HELPER_FILE);
        write_token_helper(&path, &Sensitive::new("from-file".to_string())).unwrap();
        let none = GlobalArgs::default();
        let env = Env::from_pairs(&[("HOME", home_str), ("VAULT_TOKEN", "from-vault-env")]);
        assert_eq!(
            client_config(&none, &env).unwrap().token.unwrap().expose(),
            "from-vault-env"
        );
        let env = Env::from_pairs(&[
            ("HOME", home_str),
            ("SECRETHUB_TOKEN", "ours"),
            ("VAULT_TOKEN", "v"),
        ]);
        assert_eq!(
            client_config(&none, &env).unwrap().token.unwrap().expose(),
            "ours"
        );
        let env = Env::from_pairs(&[("HOME", home_str)]);
        assert_eq!(
            client_config(&none, &env).unwrap().token.unwrap().expose(),
            "from-file"
        );
        let env = Env::from_pairs(&[("HOME", "/nonexistent-home-for-test")]);
        assert!(client_config(&none, &env).unwrap().token.is_none());
    }

    #[cfg(unix)]
    #[test]
    fn token_helper_is_private_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let path = home.path().join(TOKEN_HELPER_FILE);
        std::fs::write(&path, "old-token-that-is-longer").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_token_helper(&path, &Sensitive::new("new".to_string())).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_dir(home.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn format_and_tls_settings() {
        let none = GlobalArgs::default();
        assert_eq!(
            resolve_format(&none, &Env::default()).unwrap(),
            Format::Table
        );
        assert_eq!(
            resolve_format(&none, &Env::from_pairs(&[("VAULT_FORMAT", "json")])).unwrap(),
            Format::Json
        );
        assert!(resolve_format(&none, &Env::from_pairs(&[("VAULT_FORMAT", "xml")])).is_err());
        let json_flag = GlobalArgs {
            format: Some(Format::Json),
            ..GlobalArgs::default()
        };
        assert_eq!(
            resolve_format(&json_flag, &Env::from_pairs(&[("VAULT_FORMAT", "table")])).unwrap(),
            Format::Json
        );
        let env = Env::from_pairs(&[
            ("VAULT_SKIP_VERIFY", "1"),
            ("VAULT_CACERT", "/ca.pem"),
            ("VAULT_CLIENT_TIMEOUT", "5s"),
        ]);
        let config = client_config(&none, &env).unwrap();
        assert!(config.insecure_skip_verify);
        assert_eq!(config.ca_cert, Some(PathBuf::from("/ca.pem")));
        assert_eq!(config.timeout, Duration::from_secs(5));
        let off = GlobalArgs {
            tls_skip_verify: Some(false),
            ..GlobalArgs::default()
        };
        assert!(!client_config(&off, &env).unwrap().insecure_skip_verify);
        assert!(client_config(&none, &Env::from_pairs(&[("VAULT_SKIP_VERIFY", "maybe")])).is_err());
    }
}
