//! From a stored connection config to pools of tokio-postgres connections, plus how failures
//! are described without leaking secrets, and how refused statements are described to
//! clients without the names the database's messages carry (those go to the server log).
//!
//! `{{username}}`/`{{password}}` in `connection_url` are filled in with the root credentials,
//! percent-encoded in the URL form and backslash-escaped in the `key=value` form, so any
//! password survives the round trip through the parser. A URL without the placeholders gets
//! the credentials set directly (when it names none itself).

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use secrethub_common::JsonMap;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::NoTls;
use zeroize::Zeroizing;

use secrethub_database_plugin::{scrub, ConnectionDetails, DatabaseError};
use secrethub_postgres_tls::MakeRustlsConnect;

/// How long one connection attempt (TCP, TLS, authentication) may take: a bad host is a
/// quick, clear error rather than a hang.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request waits for a pooled connection when all are busy.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// A parsed connection config and the root user's name.
pub(crate) struct Target {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) admin_username: String,
}

/// Parses `connection_url` with the root credentials filled in.
pub(crate) fn target(name: &str, details: &ConnectionDetails) -> Result<Target, DatabaseError> {
    let password = details.password();
    let username = details.str("username");
    let url = details.str("connection_url").trim();
    if url.is_empty() {
        return Err(DatabaseError::invalid("connection_url is required"));
    }
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let escape = |v: &str| {
        if is_url {
            percent_encode(v)
        } else {
            kv_escape(v)
        }
    };
    let rendered = Zeroizing::new(
        url.replace("{{username}}", &escape(username))
            .replace("{{password}}", &escape(password)),
    );
    let mut config = tokio_postgres::Config::from_str(&rendered).map_err(|e| {
        DatabaseError::invalid(format!(
            "invalid connection_url for connection {name:?}: {}",
            scrub(&describe(&e), &[password])
        ))
    })?;
    if config.get_user().is_none() && !username.is_empty() {
        config.user(username);
    }
    if config.get_password().is_none() && !password.is_empty() {
        config.password(password.as_bytes());
    }
    if config.get_application_name().is_none() {
        config.application_name("secrethub");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let admin_username = config.get_user().unwrap_or_default().to_string();
    Ok(Target {
        config,
        admin_username,
    })
}

/// A pool of at most `size` connections for `config`.
pub(crate) fn pool(config: &tokio_postgres::Config, size: usize) -> Result<Pool, DatabaseError> {
    let manager_config = ManagerConfig {
        // `Fast` checks `Client::is_closed` on checkout, which drops connections whose backend
        // went away without a test query per request.
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match config.get_ssl_mode() {
        SslMode::Disable => Manager::from_config(config.clone(), NoTls, manager_config),
        _ => Manager::from_config(config.clone(), tls()?, manager_config),
    };
    Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(WAIT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT * 2))
        .build()
        .map_err(|e| DatabaseError::Internal(e.into()))
}

/// One rustls set-up for the process; building it parses the provider's algorithms.
fn tls() -> Result<MakeRustlsConnect, DatabaseError> {
    static TLS: OnceLock<Result<MakeRustlsConnect, String>> = OnceLock::new();
    TLS.get_or_init(|| MakeRustlsConnect::new().map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| DatabaseError::Internal(anyhow::anyhow!("cannot set up tls: {e}")))
}

/// `host`, `port` and `database` of the first host in `config`.
pub(crate) fn facts(config: &tokio_postgres::Config) -> JsonMap {
    let mut m = JsonMap::new();
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    m.insert("host".into(), host.into());
    m.insert("port".into(), port.into());
    m.insert("database".into(), database.into());
    m
}

/// Whether `err` means the connection itself is gone (as opposed to a refused statement).
/// Errors from concurrent catalog updates that succeed when simply run again: concurrent
/// `GRANT ... ON ALL TABLES` / `DROP OWNED` on the same objects ("tuple concurrently
/// updated"), serialization failures and deadlocks. Nothing of the failed attempt is
/// committed; a text that opened a transaction explicitly leaves it aborted until the caller
/// rolls back.
pub(crate) fn is_transient_conflict(err: &tokio_postgres::Error) -> bool {
    let Some(db) = err.as_db_error() else {
        return false;
    };
    match db.code().code() {
        "40001" | "40P01" => true,
        "XX000" => db.message().contains("concurrently"),
        _ => false,
    }
}

pub(crate) fn is_connection_error(err: &tokio_postgres::Error) -> bool {
    if err.is_closed() {
        return true;
    }
    if let Some(code) = err.code() {
        // Class 08 (connection exception) and 57P0x (terminated backend, shutdown, start-up).
        let code = code.code();
        return code.starts_with("08") || code.starts_with("57P0");
    }
    std::error::Error::source(err).is_some_and(|s| s.is::<std::io::Error>())
}

/// The database's message in libpq's shape (`ERROR: … (SQLSTATE 42601)`), or the client's
/// with its causes (`error connecting to server: Connection refused (os error 111)`).
pub(crate) fn describe(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        return format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
    }
    let mut out = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// A refused statement as the client sees it: the failure's condition name and SQLSTATE
/// (`undefined table (SQLSTATE 42P01)`), without the database's message, which names
/// schemas, tables, columns, roles and constraints. A client error (no SQLSTATE) is described
/// as by [`describe`]: it is about the connection, not the database's contents.
pub(crate) fn describe_for_client(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            format!("{} (SQLSTATE {code})", condition(code))
        }
        None => describe(err),
    }
}

/// Everything the database said, for the server log: [`describe`] plus its detail and hint.
/// Callers scrub it of secrets like any other description.
pub(crate) fn describe_for_log(err: &tokio_postgres::Error) -> String {
    let mut out = describe(err);
    if let Some(db) = err.as_db_error() {
        if let Some(detail) = db.detail() {
            out.push_str("; detail: ");
            out.push_str(detail);
        }
        if let Some(hint) = db.hint() {
            out.push_str("; hint: ");
            out.push_str(hint);
        }
    }
    out
}

/// PostgreSQL's condition name of a SQLSTATE (Appendix A of its manual) for the codes that
/// statements of roles commonly fail with, else the name of the code's class.
fn condition(code: &str) -> &'static str {
    match code {
        "42501" => "insufficient privilege",
        "42601" => "syntax error",
        "42P01" => "undefined table",
        "42703" => "undefined column",
        "42704" => "undefined object",
        "42883" => "undefined function",
        "42710" => "duplicate object",
        "42P07" => "duplicate table",
        "42939" => "reserved name",
        "0LP01" => "invalid grant operation",
        "23505" => "unique violation",
        "2BP01" => "dependent objects still exist",
        "25P02" => "in failed sql transaction",
        "40001" => "serialization failure",
        "40P01" => "deadlock detected",
        "55006" => "object in use",
        "57014" => "query canceled",
        "P0001" => "raise exception",
        _ => match code.get(..2).unwrap_or_default() {
            "08" => "connection exception",
            "0A" => "feature not supported",
            "22" => "data exception",
            "23" => "integrity constraint violation",
            "25" => "invalid transaction state",
            "28" => "invalid authorization specification",
            "2B" => "dependent privilege descriptors still exist",
            "3D" => "invalid catalog name",
            "3F" => "invalid schema name",
            "40" => "transaction rollback",
            "42" => "syntax error or access rule violation",
            "53" => "insufficient resources",
            "54" => "program limit exceeded",
            "55" => "object not in prerequisite state",
            "57" => "operator intervention",
            "P0" => "pl/pgsql error",
            "XX" => "internal error",
            _ => "database error",
        },
    }
}

/// Why a pooled connection could not be had.
pub(crate) fn describe_pool(err: &PoolError) -> String {
    match err {
        PoolError::Backend(e) => describe(e),
        PoolError::Timeout(_) => "timed out waiting for a connection".to_string(),
        PoolError::Closed => "connection pool closed".to_string(),
        other => other.to_string(),
    }
}

pub(crate) fn percent_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn kv_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if c.is_whitespace() || c == '\\' || c == '\'' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(url: &str, user: &str, pw: &str) -> ConnectionDetails {
        let mut d = ConnectionDetails::default();
        d.set("connection_url", url);
        d.set("username", user);
        d.set_password(pw);
        d
    }

    #[test]
    fn fills_in_credentials_in_both_forms() {
        let pw = "p@ss w/rd:'\\%";
        let t = target(
            "a",
            &record(
                "postgresql://{{username}}:{{password}}@db.internal:6543/app?sslmode=disable",
                "ad min",
                pw,
            ),
        )
        .unwrap();
        assert_eq!(t.config.get_user(), Some("ad min"));
        assert_eq!(t.config.get_password(), Some(pw.as_bytes()));
        assert_eq!(t.admin_username, "ad min");
        let f = facts(&t.config);
        assert_eq!(
            serde_json::Value::Object(f),
            serde_json::json!({"host": "db.internal", "port": 6543, "database": "app"})
        );

        let t = target(
            "a",
            &record(
                "host=h user={{username}} password={{password}} dbname=d",
                "u",
                pw,
            ),
        )
        .unwrap();
        assert_eq!(t.config.get_password(), Some(pw.as_bytes()));
        assert_eq!(t.config.get_user(), Some("u"));

        let t = target("a", &record("postgresql://h/d", "u", "x")).unwrap();
        assert_eq!(t.config.get_password(), Some(&b"x"[..]));
        assert_eq!(t.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
    }

    #[test]
    fn bad_urls_do_not_echo_the_password() {
        let e = target(
            "a",
            &record(
                "postgresql://{{username}}:{{password}}@h/d?sslmode=bogus",
                "u",
                "Secret123",
            ),
        )
        .err()
        .unwrap();
        let msg = e.to_string();
        assert!(
            msg.starts_with("invalid connection_url for connection \"a\""),
            "{msg}"
        );
        assert!(!msg.contains("Secret123"));
    }
}
