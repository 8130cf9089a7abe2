//! `connection_url` in the Go driver's DSN form, as Vault takes it:
//! `[user[:password]@][net[(address)]]/[dbname][?param=value&…]`, e.g.
//! `{{username}}:{{password}}@tcp(db:3306)/shop?tls=skip-verify`.
//!
//! The DSN is split as the Go driver splits it (the last `/`, then the last `@` before it,
//! then the first `:`) *before* `{{username}}`/`{{password}}` are filled in, so any password
//! survives: nothing is escaped or re-parsed. The result is a [`Target`], which holds the
//! typed options `mysql_async` is built from; no URL is ever rendered with the password in it.
//!
//! Parameters: `tls` (`true`, `false`, `skip-verify`) and `timeout` (the dial timeout, a Go
//! duration) take effect; the Go driver's client-side options that have no meaning here
//! (`parseTime`, `charset`, `loc`, …) are accepted and ignored; any other parameter is refused
//! by name, since the Go driver would have sent it to the server as a session variable.

use std::time::Duration;

use secrethub_database_plugin::{ConnectionDetails, DatabaseError};

/// Where and how to connect, with the root credentials filled in.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) address: Address,
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) database: String,
    pub(crate) tls: Tls,
    /// The DSN's `timeout`, if any.
    pub(crate) dial_timeout: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Address {
    Tcp { host: String, port: u16 },
    Unix(String),
}

/// TLS settings from the DSN's `tls` parameter and the `tls_*` fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Tls {
    pub(crate) enabled: bool,
    pub(crate) skip_verify: bool,
    /// PEM; when set it is the only trusted root (as in Vault).
    pub(crate) ca: Option<String>,
    /// PEM with the client certificate and its key.
    pub(crate) certificate_key: Option<String>,
    pub(crate) server_name: Option<String>,
}

/// The Go driver's parameters that only shape its own client behaviour: accepted, ignored.
const IGNORED_PARAMS: &[&str] = &[
    "allowAllFiles",
    "allowCleartextPasswords",
    "allowFallbackToPlaintext",
    "allowNativePasswords",
    "allowOldPasswords",
    "charset",
    "checkConnLiveness",
    "clientFoundRows",
    "collation",
    "columnsWithAlias",
    "interpolateParams",
    "loc",
    "maxAllowedPacket",
    "multiStatements",
    "parseTime",
    "readTimeout",
    "rejectReadOnly",
    "writeTimeout",
];

/// The parts of a DSN, split but not yet filled in.
#[derive(Debug, PartialEq)]
struct Parts<'a> {
    user: Option<&'a str>,
    password: Option<&'a str>,
    net: &'a str,
    address: &'a str,
    database: &'a str,
    params: Vec<(&'a str, &'a str)>,
}

fn bad(msg: impl std::fmt::Display) -> DatabaseError {
    DatabaseError::invalid(format!("invalid connection_url: {msg}"))
}

/// Splits a DSN the way the Go driver does. Errors never quote the DSN (it may hold a password).
fn split(dsn: &str) -> Result<Parts<'_>, DatabaseError> {
    let slash = dsn
        .rfind('/')
        .ok_or_else(|| bad("expected the form user:password@tcp(host:port)/dbname"))?;
    let (left, right) = (&dsn[..slash], &dsn[slash + 1..]);
    let (user_info, net_addr) = match left.rfind('@') {
        Some(at) => (Some(&left[..at]), &left[at + 1..]),
        None => (None, left),
    };
    let (user, password) = match user_info {
        None => (None, None),
        Some(u) => match u.find(':') {
            Some(c) => (Some(&u[..c]), Some(&u[c + 1..])),
            None => (Some(u), None),
        },
    };
    let (net, address) = match net_addr.find('(') {
        Some(open) => {
            let inner = net_addr[open + 1..]
                .strip_suffix(')')
                .ok_or_else(|| bad("missing \")\" after the address"))?;
            (&net_addr[..open], inner)
        }
        None => (net_addr, ""),
    };
    let (database, query) = match right.find('?') {
        Some(q) => (&right[..q], &right[q + 1..]),
        None => (right, ""),
    };
    let mut params = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| bad(format!("parameter {:?} has no value", key_of(pair))))?;
        params.push((k, v));
    }
    Ok(Parts {
        user,
        password,
        net,
        address,
        database,
        params,
    })
}

/// A parameter's name for messages, cut short: it comes from text that may hold a secret.
fn key_of(pair: &str) -> String {
    pair.chars().take(32).collect()
}

/// Parses `host:port`, `[v6]:port`, `host` (port 3306) or nothing (127.0.0.1:3306).
fn tcp_address(addr: &str) -> Result<Address, DatabaseError> {
    const DEFAULT_PORT: u16 = 3306;
    if addr.is_empty() {
        return Ok(Address::Tcp {
            host: "127.0.0.1".into(),
            port: DEFAULT_PORT,
        });
    }
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| bad("unclosed \"[\" in the address"))?;
        let port = rest[close + 1..].strip_prefix(':');
        (&rest[..close], port)
    } else {
        match addr.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (addr, None),
        }
    };
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
    };
    if host.is_empty() {
        return Err(bad("the address has no host"));
    }
    Ok(Address::Tcp {
        host: host.to_string(),
        port,
    })
}

/// A Go duration (`5s`, `1m30s`, `250ms`) as used by the DSN's `timeout`.
fn go_duration(v: &str) -> Option<Duration> {
    secrethub_common::parse_duration(v).ok()
}

/// Parses `connection_url` with the root credentials filled in, plus the TLS fields.
pub(crate) fn target(details: &ConnectionDetails) -> Result<Target, DatabaseError> {
    let dsn = details.str("connection_url").trim();
    if dsn.is_empty() {
        return Err(DatabaseError::invalid("connection_url is required"));
    }
    if dsn.starts_with("mysql://") {
        return Err(bad(
            "use the Go driver's form user:password@tcp(host:port)/dbname, not a mysql:// URL",
        ));
    }
    let parts = split(dsn)?;
    let username = details.str("username");
    let password = details.password();
    let fill = |v: &str| {
        v.replace("{{username}}", username)
            .replace("{{password}}", password)
    };
    let user = parts.user.map_or_else(|| username.to_string(), fill);
    let password = parts.password.map_or_else(|| password.to_string(), fill);
    let address = match parts.net {
        "" | "tcp" | "tcp4" | "tcp6" => tcp_address(parts.address)?,
        "unix" if !parts.address.is_empty() => Address::Unix(parts.address.to_string()),
        "unix" => return Err(bad("unix() needs a socket path")),
        _ => return Err(bad("the network must be tcp or unix, as in tcp(host:3306)")),
    };
    let mut tls = tls_fields(details);
    let mut dial_timeout = None;
    for (k, v) in &parts.params {
        match *k {
            "tls" => match *v {
                "true" => tls.enabled = true,
                "skip-verify" => {
                    tls.enabled = true;
                    tls.skip_verify = true;
                }
                "false" => {}
                _ => {
                    return Err(bad(
                        "tls must be true, false or skip-verify (custom TLS settings are the tls_* fields)",
                    ))
                }
            },
            "timeout" => {
                dial_timeout = Some(
                    go_duration(v).ok_or_else(|| bad("timeout must be a duration such as 5s"))?,
                );
            }
            k if IGNORED_PARAMS.contains(&k) => {}
            k => return Err(bad(format!("unsupported parameter {:?}", key_of(k)))),
        }
    }
    Ok(Target {
        address,
        user,
        password,
        database: parts.database.to_string(),
        tls,
        dial_timeout,
    })
}

/// The `tls_*` fields; any of them turns TLS on, as in Vault.
fn tls_fields(details: &ConnectionDetails) -> Tls {
    let nonempty = |k: &str| Some(details.str(k).to_string()).filter(|s| !s.trim().is_empty());
    let ca = nonempty("tls_ca");
    let certificate_key = nonempty("tls_certificate_key");
    let server_name = nonempty("tls_server_name");
    let skip_verify = details.bool_or("tls_skip_verify", false);
    Tls {
        enabled: ca.is_some() || certificate_key.is_some() || server_name.is_some() || skip_verify,
        skip_verify,
        ca,
        certificate_key,
        server_name,
    }
}

/// `connection_url` with a literal password replaced by `*****` (placeholders are kept).
pub(crate) fn redact(dsn: &str) -> String {
    let Some(slash) = dsn.rfind('/') else {
        return dsn.to_string();
    };
    let Some(at) = dsn[..slash].rfind('@') else {
        return dsn.to_string();
    };
    match dsn[..at].find(':') {
        Some(c) if &dsn[c + 1..at] != "{{password}}" => {
            format!("{}*****{}", &dsn[..=c], &dsn[at..])
        }
        _ => dsn.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(url: &str, user: &str, pw: &str) -> ConnectionDetails {
        let mut d = ConnectionDetails::default();
        d.set("connection_url", url);
        d.set("username", user);
        d.set_password(pw);
        d
    }

    #[test]
    fn splits_like_the_go_driver() {
        let p = split("u:p@ss:w@rd@tcp(db.internal:3307)/shop?tls=true&parseTime=true").unwrap();
        assert_eq!(p.user, Some("u"));
        assert_eq!(p.password, Some("p@ss:w@rd"));
        assert_eq!(
            (p.net, p.address, p.database),
            ("tcp", "db.internal:3307", "shop")
        );
        assert_eq!(p.params, vec![("tls", "true"), ("parseTime", "true")]);
        let p = split("/").unwrap();
        assert_eq!((p.user, p.net, p.database), (None, "", ""));
        assert!(split("tcp(h:1)").is_err());
        assert!(split("tcp(h:1/").is_err());
    }

    #[test]
    fn fills_in_credentials_without_escaping() {
        let pw = "p@ss/w:rd)'\\%?&";
        let t = target(&details(
            "{{username}}:{{password}}@tcp([::1]:3307)/app?timeout=2s",
            "ad min",
            pw,
        ))
        .unwrap();
        assert_eq!((t.user.as_str(), t.password.as_str()), ("ad min", pw));
        assert_eq!(
            t.address,
            Address::Tcp {
                host: "::1".into(),
                port: 3307
            }
        );
        assert_eq!(t.database, "app");
        assert_eq!(t.dial_timeout, Some(Duration::from_secs(2)));
        assert!(!t.tls.enabled);

        // No credentials in the DSN: the fields are used.
        let t = target(&details("tcp(h)/", "root", "x")).unwrap();
        assert_eq!((t.user.as_str(), t.password.as_str()), ("root", "x"));
        assert_eq!(
            t.address,
            Address::Tcp {
                host: "h".into(),
                port: 3306
            }
        );
    }

    #[test]
    fn tls_from_the_dsn_and_the_fields() {
        let t = target(&details("u:p@tcp(h:1)/?tls=skip-verify", "", "")).unwrap();
        assert!(t.tls.enabled && t.tls.skip_verify);
        let mut d = details("u:p@tcp(h:1)/", "", "");
        d.set("tls_server_name", "db.example");
        let t = target(&d).unwrap();
        assert!(t.tls.enabled && !t.tls.skip_verify);
        assert_eq!(t.tls.server_name.as_deref(), Some("db.example"));
    }

    #[test]
    fn bad_dsns_never_echo_the_password() {
        for (url, want) in [
            ("Secret123", "expected the form"),
            ("u:Secret123@tcp(h:99999)/", "port"),
            ("u:Secret123@cloudsql(h)/", "network must be tcp or unix"),
            ("u:Secret123@tcp(h)/?tls=custom", "tls must be"),
            (
                "u:Secret123@tcp(h)/?sql_mode=x",
                "unsupported parameter \"sql_mode\"",
            ),
            ("mysql://u:Secret123@h/", "not a mysql:// URL"),
        ] {
            let e = target(&details(url, "u", "Secret123")).err().unwrap();
            let msg = e.to_string();
            assert!(msg.contains(want), "{url}: {msg}");
            assert!(!msg.contains("Secret123"), "{msg}");
        }
    }

    #[test]
    fn redacts_literal_passwords_only() {
        for (input, want) in [
            (
                "{{username}}:{{password}}@tcp(h:3306)/",
                "{{username}}:{{password}}@tcp(h:3306)/",
            ),
            ("root:s3cr@t@tcp(h)/db", "root:*****@tcp(h)/db"),
            ("root@tcp(h)/db", "root@tcp(h)/db"),
            ("tcp(h)/db", "tcp(h)/db"),
        ] {
            assert_eq!(redact(input), want, "{input}");
        }
    }
}
