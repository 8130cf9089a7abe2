//! [`DatabaseType`]: what a plugin crate registers with the engine.

use std::sync::Arc;

use secrethub_common::JsonMap;

use crate::details::ConnectionDetails;
use crate::error::DatabaseError;
use crate::plugin::DatabasePlugin;
use crate::template;

/// One kind of database, as the engine sees it before any connection is opened: its names,
/// its connection fields, its statements and its limits. Implementations are stateless.
pub trait DatabaseType: Send + Sync + 'static {
    /// Vault's `plugin_name`s this type serves; the first is the one shown in listings.
    fn names(&self) -> &'static [&'static str];

    /// The connection fields a config write may give besides the engine's own (the admin
    /// `password` included, when the database has one). Any other key is refused by name.
    fn fields(&self) -> &'static [&'static str];

    /// Applies a config write's fields to `details` (empty on create, the stored ones on
    /// update: only the fields given change) and checks the result. `input` holds only keys
    /// from [`DatabaseType::fields`], without `password`, which the engine has already set.
    /// Errors name the field and never echo a value.
    fn apply_fields(
        &self,
        details: &mut ConnectionDetails,
        input: &JsonMap,
    ) -> Result<(), DatabaseError>;

    /// `connection_details` as config reads show them: no password, not even one written
    /// literally into a connection URL.
    fn redacted(&self, details: &ConnectionDetails) -> JsonMap;

    /// Checks one statements field of a role or config (`creation_statements`, …) when it is
    /// written, so a mistake is a 400 then, not a failure at issue time. The default checks
    /// Vault's `{{…}}` templates in SQL text.
    fn check_statements(&self, field: &str, statements: &[String]) -> Result<(), DatabaseError> {
        template::validate(field, statements)
    }

    /// Whether a role must give creation statements (SQL databases: there is no sensible
    /// default user). Redis, whose default is a user with no permissions, says no.
    fn requires_creation_statements(&self) -> bool {
        true
    }

    /// The longest username the database accepts; the engine shortens its default names to
    /// fit and refuses a role whose names cannot.
    fn max_username_len(&self) -> usize {
        63
    }

    /// Opens the plugin for one stored config (`name` is for messages), without IO.
    fn open(
        &self,
        name: &str,
        details: &ConnectionDetails,
    ) -> Result<Arc<dyn DatabasePlugin>, DatabaseError>;
}
