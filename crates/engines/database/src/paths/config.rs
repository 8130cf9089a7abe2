//! `database/config/:name`: connection configs. Create requires `plugin_name` and whatever
//! its plugin requires (`connection_url` for the SQL databases); update changes only the
//! fields given. The engine decodes its own fields (`allowed_roles`, `password_policy`, …)
//! and the admin `password`; every other key belongs to the plugin, which refuses the ones it
//! does not know by name, checks the rest and shows them redacted: reads never return a
//! password, not even one written literally into `connection_url`.

use secrethub_common::serde_helpers::{opt_boolean, opt_string_list};
use secrethub_common::{JsonMap, Sensitive};
use secrethub_database_plugin::{ConnectionDetails, ConnectionReport, DatabaseError, DatabaseType};
use secrethub_engine::{Request, Response};
use secrethub_storage::Storage as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::connections::config_key;
use crate::password::PasswordPolicy;
use crate::paths::check_name;
use crate::paths::rotate::rotate_root_timer;
use crate::records::{opt_statements, ConnectionRecord, RootRotation, RECORD_VERSION};
use crate::registry;
use crate::schedule::PlanInput;
use crate::username::UsernameTemplate;
use crate::DatabaseEngine;

/// The engine's own fields of a config write; the rest of the body is the plugin's.
const ENGINE_FIELDS: &[&str] = &[
    "plugin_name",
    "plugin_version",
    "verify_connection",
    "allowed_roles",
    "root_rotation_statements",
    "password_policy",
    "username_template",
    "rotation_period",
    "rotation_schedule",
    "rotation_window",
    "disable_automated_rotation",
];

#[derive(Deserialize)]
struct ConfigInput {
    plugin_name: Option<String>,
    #[serde(default, deserialize_with = "opt_boolean")]
    verify_connection: Option<bool>,
    #[serde(default, deserialize_with = "opt_string_list")]
    allowed_roles: Option<Vec<String>>,
    #[serde(default, deserialize_with = "opt_statements")]
    root_rotation_statements: Option<Vec<String>>,
    password_policy: Option<String>,
    username_template: Option<String>,
    #[serde(flatten)]
    rotation: PlanInput,
    #[serde(default, deserialize_with = "opt_boolean")]
    disable_automated_rotation: Option<bool>,
}

/// A config write split three ways: the engine's fields, the admin password (taken out first
/// so no parse error can ever echo it) and the plugin's fields.
struct ConfigWrite {
    engine: ConfigInput,
    password: Option<Sensitive<String>>,
    plugin: JsonMap,
}

fn take_password(body: &mut JsonMap) -> Result<Option<Sensitive<String>>, DatabaseError> {
    match body.remove(ConnectionDetails::PASSWORD) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Sensitive::new(s))),
        Some(Value::Number(n)) => Ok(Some(Sensitive::new(n.to_string()))),
        Some(_) => Err(DatabaseError::invalid("password must be a string")),
    }
}

fn parse_input(req: &Request) -> Result<ConfigWrite, DatabaseError> {
    let mut body = req.body.clone();
    let password = take_password(&mut body)?;
    let mut plugin = JsonMap::new();
    for key in body.keys().cloned().collect::<Vec<_>>() {
        if !ENGINE_FIELDS.contains(&key.as_str()) {
            if let Some(v) = body.remove(&key) {
                plugin.insert(key, v);
            }
        }
    }
    let engine = secrethub_common::input::decode(&body)
        .map_err(|e| DatabaseError::invalid(e.to_string()))?;
    Ok(ConfigWrite {
        engine,
        password,
        plugin,
    })
}

fn new_record(plugin_name: String) -> ConnectionRecord {
    ConnectionRecord {
        version: RECORD_VERSION,
        plugin_name,
        pending_password: None,
        allowed_roles: Vec::new(),
        verify_connection: true,
        root_rotation_statements: Vec::new(),
        password_policy: String::new(),
        username_template: String::new(),
        root_rotation: RootRotation::default(),
        revision: String::new(),
        details: ConnectionDetails::default(),
    }
}

/// Refuses fields neither the engine nor the plugin knows, by name (Vault ignores them,
/// which turns a typo such as `conection_url` into a confusing error later).
fn check_known(
    kind: &dyn DatabaseType,
    plugin_name: &str,
    fields: &JsonMap,
) -> Result<(), DatabaseError> {
    let mut unknown: Vec<&str> = fields
        .iter()
        .filter(|(k, v)| !v.is_null() && !kind.fields().contains(&k.as_str()))
        .map(|(k, _)| k.as_str())
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    Err(DatabaseError::invalid(format!(
        "unknown field{} for {plugin_name}: {}",
        if unknown.len() == 1 { "" } else { "s" },
        unknown.join(", ")
    )))
}

/// The report's warnings, and one per privilege the admin user lacks.
fn report_warnings(report: &ConnectionReport) -> Vec<String> {
    let missing = report.privileges.iter().filter(|p| !p.held).map(|p| {
        format!(
            "the admin user lacks {} (needed for {})",
            p.name, p.needed_for
        )
    });
    missing.chain(report.warnings.iter().cloned()).collect()
}

/// Applies the given fields and checks the result; answers the record's plugin.
fn apply(
    rec: &mut ConnectionRecord,
    write: ConfigWrite,
) -> Result<&'static dyn DatabaseType, DatabaseError> {
    let input = write.engine;
    if let Some(p) = input.plugin_name {
        rec.plugin_name = p;
    }
    if let Some(v) = input.verify_connection {
        rec.verify_connection = v;
    }
    if let Some(v) = input.allowed_roles {
        rec.allowed_roles = v;
    }
    if let Some(v) = input.root_rotation_statements {
        rec.root_rotation_statements = v;
    }
    if let Some(v) = input.password_policy {
        rec.password_policy = v;
    }
    if let Some(v) = input.username_template {
        rec.username_template = v;
    }
    let before = rec.root_rotation.clone();
    rec.root_rotation.plan.apply(input.rotation)?;
    if let Some(v) = input.disable_automated_rotation {
        rec.root_rotation.disabled = v;
    }
    if rec.root_rotation != before {
        // A new or changed plan counts from now.
        rec.root_rotation.last = secrethub_common::now_unix();
    }
    let kind = registry::find(&rec.plugin_name)?;
    check_known(kind, &rec.plugin_name, &write.plugin)?;
    if let Some(p) = write.password {
        rec.details.set_password(p.expose());
        rec.pending_password = None;
    }
    kind.apply_fields(&mut rec.details, &write.plugin)?;
    PasswordPolicy::parse(&rec.password_policy)?;
    if !rec.username_template.is_empty() {
        UsernameTemplate::parse(&rec.username_template)?;
    }
    kind.check_statements("root_rotation_statements", &rec.root_rotation_statements)?;
    Ok(kind)
}

impl DatabaseEngine {
    pub(crate) async fn write_config(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let key = config_key(name);
        check_name(&key)?;
        let write = parse_input(req)?;
        let existing: Option<ConnectionRecord> = req.storage.get_json(&key).await?;
        let mut rec = match existing {
            Some(r) => r,
            None => new_record(
                write
                    .engine
                    .plugin_name
                    .clone()
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| DatabaseError::invalid("plugin_name is required"))?,
            ),
        };
        let kind = apply(&mut rec, write)?;
        rec.version = RECORD_VERSION;
        rec.revision = secrethub_common::random_uuid();
        let plugin = kind.open(name, &rec.details)?;
        let mut response = Response::empty();
        if rec.verify_connection {
            let report = plugin.check_connection().await;
            if let Some(failure) = report.failure {
                return Err(DatabaseError::Verify {
                    connection: name.to_string(),
                    reason: failure.reason,
                });
            }
            response.warnings = report_warnings(&report);
        }
        req.storage.put_json(&key, &rec).await?;
        // The verified plugin (and its open connection) serves the next requests.
        self.connections.insert(name, &rec.revision, plugin);
        let timer = rotate_root_timer(name);
        let scheduled = match rec.root_rotation.next(secrethub_common::now_unix()) {
            Some(at) => req.schedule(&timer, at).await,
            None => req.unschedule(&timer).await,
        };
        scheduled.map_err(DatabaseError::Core)?;
        Ok(response)
    }

    /// `database/test-connection`: a config body checked as a write would be, opened and
    /// checked, and nothing saved. A connection that fails is a report, not an error; a body
    /// that is not a valid config is a 400.
    pub(crate) async fn test_connection(&self, req: &Request) -> Result<Response, DatabaseError> {
        let write = parse_input(req)?;
        let plugin_name = write
            .engine
            .plugin_name
            .clone()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| DatabaseError::invalid("plugin_name is required"))?;
        let mut rec = new_record(plugin_name);
        let kind = apply(&mut rec, write)?;
        let report = kind
            .open("test-connection", &rec.details)?
            .check_connection()
            .await;
        let mut data = JsonMap::new();
        data.insert("plugin_name".into(), rec.plugin_name.clone().into());
        data.insert("reachable".into(), report.failure.is_none().into());
        if let Some(f) = &report.failure {
            data.insert("error_kind".into(), json!(f.kind));
            data.insert("error".into(), f.reason.clone().into());
        } else {
            data.insert(
                "server_version".into(),
                report.server_version.clone().into(),
            );
        }
        if let Some(rtt) = report.round_trip {
            let ms = (rtt.as_secs_f64() * 100_000.0).round() / 100.0;
            data.insert("round_trip_ms".into(), json!(ms));
        }
        data.insert("privileges".into(), json!(report.privileges));
        data.insert("ready".into(), report.ready().into());
        let mut response = Response::data(data);
        response.warnings = report_warnings(&report);
        Ok(response)
    }

    pub(crate) async fn read_config(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let key = config_key(name);
        check_name(&key)?;
        let rec: ConnectionRecord = req
            .storage
            .get_json(&key)
            .await?
            .ok_or_else(|| DatabaseError::NotFound)?;
        let mut details = registry::find(&rec.plugin_name)?.redacted(&rec.details);
        if !rec.username_template.is_empty() {
            details.insert(
                "username_template".into(),
                rec.username_template.clone().into(),
            );
        }
        let data = json!({
            "plugin_name": rec.plugin_name,
            "plugin_version": "",
            "connection_details": details,
            "allowed_roles": rec.allowed_roles,
            "root_credentials_rotate_statements": rec.root_rotation_statements,
            "password_policy": rec.password_policy,
            "verify_connection": rec.verify_connection,
        });
        match data {
            Value::Object(mut m) => {
                // Only a connection with a plan shows its fields, so other reads keep
                // OpenBao's shape exactly (it has no scheduled root rotation).
                if rec.root_rotation.plan.is_set() {
                    rec.root_rotation.plan.insert_into(&mut m);
                    m.insert(
                        "disable_automated_rotation".into(),
                        rec.root_rotation.disabled.into(),
                    );
                }
                Ok(Response::data(m))
            }
            // `json!` with braces always builds an object.
            _ => Err(DatabaseError::Internal(anyhow::anyhow!(
                "config data is not an object"
            ))),
        }
    }

    pub(crate) async fn delete_config(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let key = config_key(name);
        check_name(&key)?;
        req.storage.delete(&key).await?;
        self.connections.evict(name);
        req.unschedule(&rotate_root_timer(name))
            .await
            .map_err(DatabaseError::Core)?;
        Ok(Response::empty())
    }
}
