//! Database URLs found in files → connections and roles of the `database` engine.
//!
//! A PostgreSQL or MySQL URL with a password (the `database-url` rule, literally in a file)
//! names everything a connection needs: the plugin (its scheme), where the database is, and
//! an admin login. The plan keeps the address and database name, which are not secret, in a
//! `connection_url` with `{{username}}`/`{{password}}` in place of the login; `--apply` reads
//! the login from the file ([`url_username`], [`percent_decode`]). The role issues a user per
//! lease that may use that database's tables. Only names made of letters, digits, `_` and `-`
//! go into SQL statements: a crafted URL in a scanned tree cannot inject statements that the
//! admin login would run.
//!
//! Anything else (a URL in a Kubernetes Secret's data, a password without its URL, MongoDB or
//! Redis, an odd URL shape) is proposed for a person instead.

use crate::inventory::Assessment;

use super::{Source, Step, DATABASE_MOUNT};

/// A role's lease lengths, seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ttls {
    pub(crate) default: u64,
    pub(crate) max: u64,
}

/// What the URL says, besides its login.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Address {
    host: String,
    port: Option<u16>,
    database: String,
    /// Query parameters that only shape the connection (`sslmode`, …).
    params: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plugin {
    Postgres,
    Mysql,
}

impl Plugin {
    fn name(self) -> &'static str {
        match self {
            Plugin::Postgres => "postgresql-database-plugin",
            Plugin::Mysql => "mysql-database-plugin",
        }
    }

    fn of(plugin: Option<&str>) -> Option<Plugin> {
        match plugin? {
            "postgresql-database-plugin" => Some(Plugin::Postgres),
            "mysql-database-plugin" => Some(Plugin::Mysql),
            _ => None,
        }
    }

    /// `connection_url` in the form the plugin takes (a URL for PostgreSQL, the Go driver's
    /// DSN for MySQL).
    fn connection_url(self, a: &Address) -> String {
        let host = &a.host;
        match self {
            Plugin::Postgres => {
                let port = a.port.unwrap_or(5432);
                let mut url = format!(
                    "postgresql://{{{{username}}}}:{{{{password}}}}@{host}:{port}/{}",
                    a.database
                );
                let params: Vec<String> =
                    a.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                if !params.is_empty() {
                    url.push('?');
                    url.push_str(&params.join("&"));
                }
                url
            }
            Plugin::Mysql => {
                let port = a.port.unwrap_or(3306);
                format!(
                    "{{{{username}}}}:{{{{password}}}}@tcp({host}:{port})/{}",
                    a.database
                )
            }
        }
    }

    /// A user per lease that may read and write the tables of `database` (and nothing else).
    fn creation_statements(self, database: &str) -> Vec<String> {
        match self {
            Plugin::Postgres => vec![
                "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';".into(),
                format!("GRANT CONNECT ON DATABASE \"{database}\" TO \"{{{{name}}}}\";"),
                "GRANT USAGE ON SCHEMA public TO \"{{name}}\";".into(),
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \"{{name}}\";".into(),
                "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO \"{{name}}\";".into(),
            ],
            Plugin::Mysql => vec![
                "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';".into(),
                format!("GRANT SELECT, INSERT, UPDATE, DELETE ON `{database}`.* TO '{{{{name}}}}'@'%';"),
            ],
        }
    }
}

/// Query parameters kept in a PostgreSQL `connection_url`: they shape the connection and
/// never carry a secret (unlike `password` or `sslpassword`).
const KEPT_PARAMS: &[&str] = &[
    "sslmode",
    "connect_timeout",
    "application_name",
    "target_session_attrs",
];

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The URL's login user, from the text of its line before the password (`…://user:`),
/// percent-decoded; `None` when there is no user.
pub fn url_username(before_password: &str) -> Option<String> {
    let start = before_password.rfind("://")? + 3;
    let user = before_password[start..].strip_suffix(':')?;
    if user.is_empty() || user.contains(['@', '/', ' ', '"', '\'']) {
        return None;
    }
    Some(percent_decode(user))
}

/// `%XX` escapes decoded, as a URL's user info is written; anything else kept as it is.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The address after the password: `@host[:port]/database[?params]`.
fn address_after(after_password: &str) -> Option<Address> {
    let rest = after_password.strip_prefix('@')?;
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
        .unwrap_or(rest.len());
    let url = &rest[..end];
    let (authority, rest) = url.split_once('/')?;
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        match &authority[close + 1..] {
            "" => (&authority[..=close], None),
            p => (
                &authority[..=close],
                Some(p.strip_prefix(':')?.parse::<u16>().ok()?),
            ),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p.parse::<u16>().ok()?)),
            None => (authority, None),
        }
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'))
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    let (database, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !host_ok || !is_name(database) {
        return None;
    }
    let params = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, v)| KEPT_PARAMS.contains(k) && is_name(v))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Some(Address {
        host: host.to_string(),
        port,
        database: database.to_string(),
        params,
    })
}

struct Connection {
    service: String,
    name: String,
    plugin: Plugin,
    address: Address,
    source: Source,
}

/// A database secret a person makes dynamic.
struct ByHand {
    file: String,
    line: usize,
    service: String,
    plugin: &'static str,
}

/// The connections a plan sets up, one per service and database, and the database secrets
/// left to a person.
#[derive(Default)]
pub(crate) struct Databases {
    connections: Vec<Connection>,
    by_hand: Vec<ByHand>,
}

impl Databases {
    /// Takes in a database secret of `service` found in `text` (its file): a connection, or
    /// one for a person to set up.
    pub(crate) fn add(&mut self, a: &Assessment, service: &str, text: &str, source: Source) {
        let f = &a.finding;
        let plugin = Plugin::of(a.replace_with.plugin);
        let parsed = (|| {
            if f.decoded_from.is_some() || f.rule != "database-url" {
                return None;
            }
            let (start, end) = f.span;
            let line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
            url_username(text.get(line_start..start)?)?;
            Some((plugin?, address_after(text.get(end..)?)?))
        })();
        let Some((plugin, address)) = parsed else {
            self.by_hand.push(ByHand {
                file: f.path.clone(),
                line: f.line,
                service: service.to_string(),
                plugin: a.replace_with.plugin.unwrap_or("<plugin>"),
            });
            return;
        };
        let same = |c: &Connection| {
            c.service == service
                && c.plugin == plugin
                && c.address.host == address.host
                && c.address.port == address.port
                && c.address.database == address.database
        };
        if self.connections.iter().any(same) {
            return;
        }
        let taken = |n: &str| self.connections.iter().any(|c| c.name == n);
        let mut name = service.to_string();
        if taken(&name) {
            name = format!("{service}-{}", super::sanitize(&address.database));
            let base = name.clone();
            let mut n = 2;
            while taken(&name) {
                name = format!("{base}-{n}");
                n += 1;
            }
        }
        self.connections.push(Connection {
            service: service.to_string(),
            name,
            plugin,
            address,
            source,
        });
    }

    /// The roles (named as their connections) whose creds `service` may read.
    pub(crate) fn roles_of<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a str> {
        self.connections
            .iter()
            .filter(move |c| c.service == service)
            .map(|c| c.name.as_str())
    }

    /// A connection and its role per database, then what a person does once the service
    /// reads dynamic credentials.
    pub(crate) fn steps(&self, ttls: Ttls) -> Vec<Step> {
        let mut steps = Vec::new();
        for c in &self.connections {
            steps.push(Step::DatabaseConnection {
                name: c.name.clone(),
                plugin: c.plugin.name().into(),
                connection_url: c.plugin.connection_url(&c.address),
                allowed_roles: vec![c.name.clone()],
                source: c.source.clone(),
            });
            steps.push(Step::DatabaseRole {
                name: c.name.clone(),
                connection: c.name.clone(),
                creation_statements: c.plugin.creation_statements(&c.address.database),
                default_ttl: ttls.default,
                max_ttl: ttls.max,
            });
        }
        steps
    }

    /// What stays for a person: the database secrets the plan could not set up (under a
    /// connection name the plan leaves free), and, once a service reads its dynamic
    /// credentials, retiring the static admin password.
    pub(crate) fn proposals(&self) -> Vec<Step> {
        let mut taken: Vec<String> = self.connections.iter().map(|c| c.name.clone()).collect();
        let mut out = Vec::new();
        for h in &self.by_hand {
            let mut name = h.service.clone();
            let mut n = 2;
            while taken.contains(&name) {
                name = format!("{}-{n}", h.service);
                n += 1;
            }
            taken.push(name.clone());
            out.push(Step::Proposal {
                what: format!(
                    "{}:{}: make it dynamic: secrethub write {DATABASE_MOUNT}/config/{name} plugin_name={} connection_url=… username=<admin> password=<admin password> allowed_roles={name}, then {DATABASE_MOUNT}/roles/{name} with creation_statements, default_ttl and max_ttl, and add {DATABASE_MOUNT}/creds/{name} to the policy {}",
                    h.file, h.line, h.plugin, h.service
                ),
            });
        }
        for c in &self.connections {
            out.push(Step::Proposal {
                what: format!(
                    "{}:{}: once {} reads {DATABASE_MOUNT}/creds/{} (the agent renews the lease), rotate the admin password it used so the copy in KV stops working: secrethub write -f {DATABASE_MOUNT}/rotate-root/{}",
                    c.source.file, c.source.line, c.service, c.name, c.name
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_after_the_password_is_parsed_strictly() {
        let a = address_after("@db.prod:6432/orders?sslmode=require&password=x\n").unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.database.as_str()),
            ("db.prod", Some(6432), "orders")
        );
        assert_eq!(a.params, [("sslmode".to_string(), "require".to_string())]);
        assert_eq!(
            Plugin::Postgres.connection_url(&a),
            "postgresql://{{username}}:{{password}}@db.prod:6432/orders?sslmode=require"
        );
        let v6 = address_after("@[::1]/shop\"").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("[::1]", None));
        assert_eq!(
            Plugin::Mysql.connection_url(&v6),
            "{{username}}:{{password}}@tcp([::1]:3306)/shop"
        );
        // No database, or one that would need quoting in SQL: a person sets it up.
        assert_eq!(address_after("@db:5432"), None);
        assert_eq!(address_after("@db:5432/a%22b"), None);
        assert_eq!(address_after("@db:5432/x;DROP"), None);
        assert_eq!(address_after("@db:port/x"), None);
    }

    #[test]
    fn the_login_is_read_from_the_text_before_the_password() {
        assert_eq!(
            url_username("DATABASE_URL=postgresql://orders_admin:").as_deref(),
            Some("orders_admin")
        );
        assert_eq!(url_username("X=mysql://a%40b:").as_deref(), Some("a@b"));
        assert_eq!(url_username("X=redis://:"), None);
        assert_eq!(percent_decode("p%2Fw%zz%4"), "p/w%zz%4");
    }
}
