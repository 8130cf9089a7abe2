//! Password changes: root rotation, and the password of a static role's existing user.
//!
//! A static role's default is Vault's MySQL rotation statement,
//! `ALTER USER '{{username}}'@'%' IDENTIFIED BY '{{password}}'`; a user defined at another
//! host needs `rotation_statements` naming it. Setting the same password twice is harmless,
//! which is how the engine finishes an interrupted rotation. When the default statement finds
//! no `'<name>'@'%'` (MySQL error 1396), the error says whether the user is missing or where
//! it is defined instead. Names and passwords are put into the statements quoted (quotes
//! doubled, backslashes refused), so a static role's `username` cannot end the literal.

use mysql_async::prelude::Queryable;
use secrethub_database_plugin::template::{self, Vars};
use secrethub_database_plugin::DatabaseError;
use zeroize::Zeroizing;

use crate::{errors, escaped, literal, MysqlPlugin};

/// Vault's default rotation statement for MySQL static roles.
pub(crate) const DEFAULT_SET_PASSWORD: &str =
    "ALTER USER '{{username}}'@'%' IDENTIFIED BY '{{password}}'";

/// `ER_CANNOT_USER`: `ALTER USER` (or `CREATE`/`DROP`) found no such account.
const CANNOT_USER: u16 = 1396;

impl MysqlPlugin {
    /// Root rotation (see the crate docs for the default).
    pub(crate) async fn rotate_root_password(
        &self,
        statements: &[String],
        new_password: &str,
    ) -> Result<(), DatabaseError> {
        let mut conn = self.conn(&self.issue).await?;
        let sql = if statements.is_empty() {
            // The account this connection is logged in as, `user@host`.
            let account: Option<String> = match conn.query_first("SELECT CURRENT_USER()").await {
                Ok(a) => a,
                Err(e) => return Err(self.failure("checking the admin user", &e, &[])),
            };
            let (user, host) = account
                .as_deref()
                .and_then(|a| a.rsplit_once('@'))
                .ok_or_else(|| {
                    DatabaseError::Internal(anyhow::anyhow!("CURRENT_USER() is not user@host"))
                })?;
            Zeroizing::new(format!(
                "ALTER USER {}@{} IDENTIFIED BY {}",
                literal(user)?,
                literal(host)?,
                literal(new_password)?
            ))
        } else {
            let password = Zeroizing::new(escaped(new_password)?);
            let vars = Vars {
                name: &self.admin_username,
                password: &password,
                ..Vars::default()
            };
            Zeroizing::new(template::render_all(
                "root_rotation_statements",
                statements,
                &vars,
            )?)
        };
        match conn.query_drop(sql.as_str()).await {
            Ok(()) => Ok(()),
            Err(e) => {
                if !errors::is_connection_error(&e) {
                    let _ = conn.query_drop("ROLLBACK").await;
                }
                Err(self.failure("rotating the root password", &e, &[new_password]))
            }
        }
    }

    /// A static role's password: `statements` (or the default) with the name and password.
    pub(crate) async fn set_user_password(
        &self,
        statements: &[String],
        username: &str,
        password: &str,
    ) -> Result<(), DatabaseError> {
        let default = statements.is_empty();
        let statements = if default {
            vec![DEFAULT_SET_PASSWORD.to_string()]
        } else {
            statements.to_vec()
        };
        let name = escaped(username)?;
        let quoted_password = Zeroizing::new(escaped(password)?);
        let vars = Vars {
            name: &name,
            password: &quoted_password,
            ..Vars::default()
        };
        let sql = Zeroizing::new(template::render_all(
            "rotation_statements",
            &statements,
            &vars,
        )?);
        let mut conn = self.conn(&self.issue).await?;
        let Err(e) = conn.query_drop(sql.as_str()).await else {
            return Ok(());
        };
        let err = self.failure("rotating a static role's password", &e, &[password]);
        if errors::is_connection_error(&e) {
            return Err(err);
        }
        let _ = conn.query_drop("ROLLBACK").await;
        if default && errors::code(&e) == Some(CANNOT_USER) {
            // Which hosts the name is defined at, to say what is wrong; without the right to
            // read mysql.user the generic error stands.
            let hosts: Result<Vec<String>, _> = conn
                .query(format!(
                    "SELECT Host FROM mysql.user WHERE User = {} ORDER BY Host",
                    literal(username)?
                ))
                .await;
            return Err(match hosts {
                Ok(hosts) if hosts.is_empty() => DatabaseError::invalid(format!(
                    "user {username:?} does not exist on connection {:?}",
                    self.name
                )),
                Ok(hosts) => DatabaseError::invalid(format!(
                    "user {username:?} on connection {:?} is defined at host {} and not at '%', \
                     which the default rotation statement alters; give rotation_statements \
                     naming the host",
                    self.name,
                    hosts
                        .iter()
                        .map(|h| format!("'{h}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                Err(_) => err,
            });
        }
        Err(err)
    }
}
