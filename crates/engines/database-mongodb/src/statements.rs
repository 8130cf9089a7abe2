//! A role's statements as Vault's MongoDB plugin reads them: JSON documents, checked when the
//! role is written.
//!
//! Creation: `{"db": "admin", "roles": [{"role": "readWrite", "db": "docs"}, "read"]}`, the
//! database the user is created in (`admin` when not given) and its roles, each a role name
//! (of that database) or a `{"role", "db"}` document. Vault reads only the first statement and
//! ignores unknown keys; here exactly one document is allowed and an unknown key (`"role"`
//! for `"roles"`, say) is refused by name, so a typo cannot create a user without its roles.
//!
//! Revocation: nothing (the default) or `{"db": "…"}`, the database to drop the user from.

use mongodb::bson::{doc, Bson};
use secrethub_database_plugin::DatabaseError;
use serde::Deserialize;
use serde_json::Value;

/// The database users are created in, and dropped from, by default (Vault's).
pub(crate) const DEFAULT_DB: &str = "admin";

const EXAMPLE: &str = r#"such as {"db": "admin", "roles": [{"role": "readWrite", "db": "docs"}]}"#;

/// A checked creation statement.
#[derive(Debug, PartialEq)]
pub(crate) struct Creation {
    /// The database the user is created in.
    pub(crate) db: String,
    /// `createUser`'s `roles`: role names, or `{role, db}` documents.
    pub(crate) roles: Vec<Bson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCreation {
    #[serde(default)]
    db: Option<String>,
    #[serde(default)]
    roles: Option<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    role: String,
    #[serde(default)]
    db: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRevocation {
    #[serde(default)]
    db: Option<String>,
}

fn non_empty(statements: &[String]) -> Vec<&str> {
    statements
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The one JSON document of `field`, if given.
fn single<'a>(field: &str, statements: &'a [String]) -> Result<Option<&'a str>, DatabaseError> {
    match non_empty(statements).as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(DatabaseError::invalid(format!(
            "{field}: the MongoDB plugin takes one JSON document, not a list of statements"
        ))),
    }
}

/// A database name MongoDB would accept (checked here so a typo is a 400 at role write).
fn check_db(field: &str, db: &str) -> Result<(), DatabaseError> {
    if db.is_empty()
        || db.len() > 64
        || db
            .chars()
            .any(|c| matches!(c, '/' | '\\' | '.' | ' ' | '"' | '$' | '\0'))
    {
        return Err(DatabaseError::invalid(format!(
            "{field}: {db:?} is not a valid MongoDB database name"
        )));
    }
    Ok(())
}

/// The creation statement of a role.
pub(crate) fn creation(statements: &[String]) -> Result<Creation, DatabaseError> {
    let field = "creation_statements";
    let shape = || {
        DatabaseError::invalid(format!(
            "{field} must be a JSON document with \"db\" and \"roles\", {EXAMPLE}"
        ))
    };
    let Some(text) = single(field, statements)? else {
        return Err(DatabaseError::invalid(format!(
            "{field} are required by the MongoDB plugin, {EXAMPLE}"
        )));
    };
    // An object, not a list: serde would read `["admin"]` as the struct's fields in order.
    let value: Value = serde_json::from_str(text).map_err(|_| shape())?;
    if !value.is_object() {
        return Err(shape());
    }
    // serde's message names the unknown or mistyped key.
    let raw: RawCreation = serde_json::from_value(value)
        .map_err(|e| DatabaseError::invalid(format!("{field}: {e}, {EXAMPLE}")))?;
    let db = raw.db.unwrap_or_else(|| DEFAULT_DB.to_string());
    check_db(field, &db)?;
    let raws = raw.roles.unwrap_or_default();
    if raws.is_empty() {
        return Err(DatabaseError::invalid(format!(
            "{field}: \"roles\" must list at least one role, {EXAMPLE}"
        )));
    }
    let mut roles = Vec::with_capacity(raws.len());
    for r in raws {
        let role = match r {
            Value::String(name) => RawRole {
                role: name,
                db: None,
            },
            Value::Object(_) => serde_json::from_value::<RawRole>(r).map_err(|e| {
                DatabaseError::invalid(format!(
                    "{field}: each role is a name or a {{\"role\", \"db\"}} document: {e}"
                ))
            })?,
            _ => {
                return Err(DatabaseError::invalid(format!(
                    "{field}: each role is a name or a {{\"role\", \"db\"}} document"
                )))
            }
        };
        if role.role.trim().is_empty() {
            return Err(DatabaseError::invalid(format!(
                "{field}: a role name is empty"
            )));
        }
        roles.push(match role.db.filter(|d| !d.is_empty()) {
            // Vault's shape: a role without its own database is the bare name, which MongoDB
            // reads as a role of the database the user is created in.
            None => Bson::String(role.role),
            Some(role_db) => {
                check_db(field, &role_db)?;
                Bson::Document(doc! {"role": role.role, "db": role_db})
            }
        });
    }
    Ok(Creation { db, roles })
}

/// The database a revocation statement drops the user from, or `None` for the default.
pub(crate) fn revocation_db(statements: &[String]) -> Result<Option<String>, DatabaseError> {
    let field = "revocation_statements";
    let Some(text) = single(field, statements)? else {
        return Ok(None);
    };
    let raw: RawRevocation = serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object)
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| {
            DatabaseError::invalid(format!(
                "{field} must be a JSON document such as {{\"db\": \"admin\"}}"
            ))
        })?;
    match raw.db.filter(|d| !d.is_empty()) {
        Some(db) => {
            check_db(field, &db)?;
            Ok(Some(db))
        }
        None => Ok(None),
    }
}

/// The statement fields MongoDB has no use for: renewal only extends the lease, root and
/// static rotation are `updateUser`.
pub(crate) fn check_unused(field: &str, statements: &[String]) -> Result<(), DatabaseError> {
    if non_empty(statements).is_empty() {
        return Ok(());
    }
    Err(DatabaseError::invalid(format!(
        "{field} are not supported by the MongoDB plugin (renewal only extends the lease, \
         password rotation is updateUser)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Vec<String> {
        vec![s.to_string()]
    }

    #[test]
    fn reads_vaults_creation_documents() {
        let c = creation(&one(
            r#"{"db": "admin", "roles": [{"role": "readWrite"}, {"role": "read", "db": "foo"}, "dbAdmin"]}"#,
        ))
        .unwrap();
        assert_eq!(c.db, "admin");
        assert_eq!(
            c.roles,
            vec![
                Bson::String("readWrite".into()),
                Bson::Document(doc! {"role": "read", "db": "foo"}),
                Bson::String("dbAdmin".into()),
            ]
        );
        assert_eq!(
            creation(&one(r#"{"roles": ["read"]}"#)).unwrap().db,
            "admin"
        );
    }

    #[test]
    fn refuses_bad_creation_documents() {
        for (text, want) in [
            ("readWrite@docs", "must be a JSON document"),
            ("[\"read\"]", "must be a JSON document"),
            (r#"{"db": "admin"}"#, "at least one role"),
            (r#"{"db": "admin", "roles": []}"#, "at least one role"),
            (
                r#"{"db": "admin", "role": ["read"]}"#,
                "unknown field `role`",
            ),
            (r#"{"roles": [7]}"#, "each role is a name"),
            (r#"{"roles": [{"name": "read"}]}"#, "unknown field `name`"),
            (r#"{"roles": [""]}"#, "a role name is empty"),
            (
                r#"{"db": "a.b", "roles": ["read"]}"#,
                "not a valid MongoDB database name",
            ),
            ("", "are required"),
        ] {
            let e = creation(&one(text)).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        let e = creation(&[
            r#"{"roles":["read"]}"#.into(),
            r#"{"roles":["read"]}"#.into(),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("one JSON document"), "{e}");
    }

    #[test]
    fn reads_revocation_documents() {
        assert_eq!(revocation_db(&[]).unwrap(), None);
        assert_eq!(revocation_db(&one("{}")).unwrap(), None);
        assert_eq!(
            revocation_db(&one(r#"{"db": "docs"}"#)).unwrap(),
            Some("docs".into())
        );
        assert!(revocation_db(&one("dropUser")).is_err());
        assert!(revocation_db(&one(r#"{"database": "docs"}"#)).is_err());
        assert!(check_unused("renew_statements", &one("x")).is_err());
        assert!(check_unused("renew_statements", &one(" ")).is_ok());
    }
}
