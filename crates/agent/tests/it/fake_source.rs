//! A `SecretSource` in memory that counts fetches and records revocations, for the render and
//! run tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use secrethub_agent::render::{Fetched, SecretSource};
use secrethub_common::Sensitive;
use secrethub_providers::{Lease, ProviderError, ProviderErrorKind, Secret};

/// What the fake answers for one path.
pub(crate) enum Answer {
    Secret(Secret),
    Fail(ProviderErrorKind),
}

#[derive(Default)]
pub(crate) struct FakeSource {
    answers: HashMap<String, Answer>,
    fetches: Mutex<Vec<(Option<String>, String)>>,
    revoked: Mutex<Vec<(String, String)>>,
}

pub(crate) fn secret(fields: &[(&str, &str)]) -> Secret {
    Secret {
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), Sensitive::new(v.to_string())))
            .collect::<BTreeMap<_, _>>(),
        lease: None,
        version: None,
    }
}

pub(crate) fn leased(fields: &[(&str, &str)], lease_id: &str) -> Secret {
    Secret {
        lease: Some(Lease {
            id: lease_id.to_string(),
            duration: Duration::from_secs(3600),
            renewable: true,
        }),
        version: Some("1".to_string()),
        ..secret(fields)
    }
}

impl FakeSource {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn with(mut self, path: &str, answer: Secret) -> Self {
        self.answers
            .insert(path.to_string(), Answer::Secret(answer));
        self
    }

    pub(crate) fn failing(mut self, path: &str, kind: ProviderErrorKind) -> Self {
        self.answers.insert(path.to_string(), Answer::Fail(kind));
        self
    }

    /// Every fetch so far, in order.
    pub(crate) fn fetches(&self) -> Vec<(Option<String>, String)> {
        self.fetches.lock().unwrap().clone()
    }

    /// Every revocation so far: (provider, lease id).
    pub(crate) fn revoked(&self) -> Vec<(String, String)> {
        self.revoked.lock().unwrap().clone()
    }
}

#[async_trait]
impl SecretSource for FakeSource {
    async fn fetch(&self, provider: Option<&str>, path: &str) -> Result<Fetched, ProviderError> {
        self.fetches
            .lock()
            .unwrap()
            .push((provider.map(str::to_string), path.to_string()));
        let name = provider.unwrap_or("secrethub").to_string();
        match self.answers.get(path) {
            Some(Answer::Secret(secret)) => Ok(Fetched {
                provider: name,
                secret: secret.clone(),
            }),
            Some(Answer::Fail(kind)) => Err(ProviderError {
                kind: *kind,
                provider: name,
                message: format!("{kind:?} at {path}").to_lowercase(),
            }),
            None => Err(ProviderError {
                kind: ProviderErrorKind::NotFound,
                provider: name,
                message: format!("no secret at {path}"),
            }),
        }
    }

    async fn revoke(&self, provider: &str, lease_id: &str) -> Result<(), ProviderError> {
        self.revoked
            .lock()
            .unwrap()
            .push((provider.to_string(), lease_id.to_string()));
        Ok(())
    }
}
