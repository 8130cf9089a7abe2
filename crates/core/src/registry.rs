//! `EngineRegistry`: engine type name → factory, one table for secrets engines
//! (`sys/mounts`) and one for auth methods (`sys/auth`). Filled by the `secrethub` crate (the
//! composition root), so core never depends on a concrete engine.

use std::collections::BTreeMap;

use secrethub_engine::EngineFactory;

/// Known engine types.
#[derive(Clone, Default)]
pub struct EngineRegistry {
    factories: BTreeMap<String, EngineFactory>,
    auth: BTreeMap<String, EngineFactory>,
}

impl EngineRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `factory` under `type_name` (and returns self for chaining).
    pub fn register(mut self, type_name: &str, factory: EngineFactory) -> Self {
        self.factories.insert(type_name.to_string(), factory);
        self
    }

    /// Registers an auth method `factory` under `type_name`.
    pub fn register_auth(mut self, type_name: &str, factory: EngineFactory) -> Self {
        self.auth.insert(type_name.to_string(), factory);
        self
    }

    /// The auth method factory for `type_name`.
    pub fn get_auth(&self, type_name: &str) -> Option<EngineFactory> {
        self.auth.get(type_name).copied()
    }

    /// Registered auth method type names, for error messages.
    pub fn auth_names(&self) -> Vec<String> {
        self.auth.keys().cloned().collect()
    }

    /// The factory for `type_name`.
    pub fn get(&self, type_name: &str) -> Option<EngineFactory> {
        self.factories.get(type_name).copied()
    }

    /// Registered type names, for error messages.
    pub fn names(&self) -> Vec<String> {
        self.factories.keys().cloned().collect()
    }
}
