//! Resolves every `${secret:…}` reference of a text (or of many environment values) through a
//! [`SecretSource`], reading each distinct `(provider, path)` exactly once per render, so every
//! reference to `database/creds/ROLE` in one file shares one set of credentials.
//!
//! A render is all or nothing: on any error the caller gets only the error, which quotes the
//! reference (never a value), and the leases the render had already obtained are revoked so a
//! failed render leaves no credential behind.

use std::collections::HashMap;

use async_trait::async_trait;
use futures::future::join_all;
use futures::stream::{self, StreamExt};
use secrethub_common::{ErrorKind, Sensitive};
use secrethub_providers::{Lease, ProviderError, ProviderErrorKind, Providers, Secret};

use crate::reference::{self, Reference, ReferenceError, Segment};

/// A secret as a [`SecretSource`] answered it, with the name of the provider that did.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub provider: String,
    pub secret: Secret,
}

/// Where references are read from: [`Providers`] in production, a fake in tests.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// Reads the secret at `path`; `provider` is the reference's explicit `PROVIDER:` prefix.
    async fn fetch(&self, provider: Option<&str>, path: &str) -> Result<Fetched, ProviderError>;

    /// Revokes a lease `fetch` handed out. A failed render calls it for the leases it obtained;
    /// a source without leases keeps this default.
    async fn revoke(&self, provider: &str, lease_id: &str) -> Result<(), ProviderError> {
        let _ = lease_id;
        Err(ProviderError::new(
            ProviderErrorKind::Unsupported,
            provider,
            "this source cannot revoke leases",
        ))
    }
}

#[async_trait]
impl SecretSource for Providers {
    async fn fetch(&self, provider: Option<&str>, path: &str) -> Result<Fetched, ProviderError> {
        let (provider, secret) = self.read(provider, path).await?;
        Ok(Fetched { provider, secret })
    }

    async fn revoke(&self, provider: &str, lease_id: &str) -> Result<(), ProviderError> {
        match self.get(provider) {
            Some(member) => member.revoke(lease_id).await,
            None => Err(ProviderError::new(
                ProviderErrorKind::Invalid,
                provider,
                format!("no provider is called {provider:?}"),
            )),
        }
    }
}

/// One secret a render read: what to renew, revoke or watch, and what to mask.
#[derive(Debug, Clone)]
pub struct Used {
    /// The provider that answered (the resolved name, not the reference's prefix): renew and
    /// revoke the lease there.
    pub provider: String,
    /// The provider as the reference wrote it (`None` when routed by prefix or default):
    /// with `path`, the arguments to read or invalidate it again.
    pub requested: Option<String>,
    /// The path as the reference wrote it.
    pub path: String,
    pub lease: Option<Lease>,
    pub version: Option<String>,
    /// The distinct values substituted from this secret, for masking output.
    pub values: Vec<Sensitive<String>>,
}

/// A rendered text and the secrets it used.
#[derive(Debug)]
pub struct Rendered {
    pub text: Sensitive<String>,
    pub used: Vec<Used>,
}

/// Why a render failed. Messages quote the reference and name paths and fields, never values.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// The provider failed (or the secret is missing and the reference has no default).
    #[error("{reference}: {error}")]
    Provider {
        reference: String,
        error: ProviderError,
    },
    #[error("{reference}: no field \"{field}\" in {path}")]
    MissingField {
        reference: String,
        field: String,
        path: String,
    },
    /// The secret has no fields and the reference has no default.
    #[error("{reference}: {path} has no fields")]
    NoFields { reference: String, path: String },
    /// No `#FIELD`, and the secret has several fields, none of them `value`.
    #[error(
        "{reference}: the reference names no field and {path} has several ({}); add #FIELD",
        fields.join(", ")
    )]
    AmbiguousField {
        reference: String,
        path: String,
        /// Field names (not values).
        fields: Vec<String>,
    },
    /// An error in the value of environment variable `name`.
    #[error("{name}: {error}")]
    Variable {
        name: String,
        error: Box<RenderError>,
    },
}

impl RenderError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            RenderError::Reference(e) => e.kind(),
            RenderError::Provider { error, .. } => match error.kind {
                ProviderErrorKind::NotFound => ErrorKind::NotFound,
                ProviderErrorKind::Denied => ErrorKind::PermissionDenied,
                ProviderErrorKind::Unavailable => ErrorKind::Unavailable,
                ProviderErrorKind::Invalid => ErrorKind::BadRequest,
                ProviderErrorKind::Unsupported => ErrorKind::UnsupportedOperation,
            },
            RenderError::MissingField { .. } | RenderError::NoFields { .. } => ErrorKind::NotFound,
            RenderError::AmbiguousField { .. } => ErrorKind::BadRequest,
            RenderError::Variable { error, .. } => error.kind(),
        }
    }
}

/// Renders `text`: every reference replaced by its value, one fetch per distinct secret.
pub async fn render(source: &dyn SecretSource, text: &str) -> Result<Rendered, RenderError> {
    let segments = reference::parse(text)?;
    let fetches = fetch_all(source, [segments.as_slice()]).await;
    let mut values = fetches.no_values();
    let result = fetches.substitute(&segments, &mut values);
    match result {
        Ok(text) => Ok(Rendered {
            text,
            used: fetches.into_used(values),
        }),
        Err(error) => {
            fetches.revoke_all(source).await;
            Err(error)
        }
    }
}

/// Renders many environment values at once, sharing one fetch per distinct secret across all
/// of them. Errors name the variable and the reference.
pub async fn render_env(
    source: &dyn SecretSource,
    vars: &[(String, String)],
) -> Result<(Vec<(String, Sensitive<String>)>, Vec<Used>), RenderError> {
    let parsed = vars
        .iter()
        .map(|(name, value)| {
            reference::parse(value).map_err(|e| RenderError::Variable {
                name: name.clone(),
                error: Box::new(e.into()),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let fetches = fetch_all(source, parsed.iter().map(Vec::as_slice)).await;
    let mut values = fetches.no_values();
    let result = vars
        .iter()
        .zip(&parsed)
        .map(|((name, _), segments)| {
            fetches
                .substitute(segments, &mut values)
                .map(|value| (name.clone(), value))
                .map_err(|e| RenderError::Variable {
                    name: name.clone(),
                    error: Box::new(e),
                })
        })
        .collect::<Result<Vec<_>, _>>();
    match result {
        Ok(env) => Ok((env, fetches.into_used(values))),
        Err(error) => {
            fetches.revoke_all(source).await;
            Err(error)
        }
    }
}

/// How many fetches of one render run at once: enough to hide latency, few enough not to flood
/// a server with a large template.
const MAX_CONCURRENT_FETCHES: usize = 8;

/// A distinct secret as references name it: the explicit provider prefix and the path.
type Key = (Option<String>, String);

/// The answers of one render's fetches, in the order the secrets were first referenced.
struct Fetches {
    answers: Vec<(Key, Result<Fetched, ProviderError>)>,
    index: HashMap<Key, usize>,
}

/// Per answer of [`Fetches`]: the distinct values substituted from it so far, for masking.
type Values = Vec<Vec<Sensitive<String>>>;

/// Fetches every distinct secret the segments reference, each once, a few at a time.
async fn fetch_all<'a>(
    source: &dyn SecretSource,
    texts: impl IntoIterator<Item = &'a [Segment]>,
) -> Fetches {
    let mut keys: Vec<Key> = Vec::new();
    let mut index = HashMap::new();
    for segment in texts.into_iter().flatten() {
        if let Segment::Reference(r) = segment {
            let key = (r.provider.clone(), r.path.clone());
            index.entry(key.clone()).or_insert_with(|| {
                keys.push(key);
                keys.len() - 1
            });
        }
    }
    // The futures are built before the stream (not by a `map` closure over borrowed keys),
    // which keeps the render future `Send` for `tokio::spawn` (rust-lang/rust#102211).
    let pending: Vec<_> = keys
        .iter()
        .map(|(provider, path)| source.fetch(provider.as_deref(), path))
        .collect();
    let results: Vec<_> = stream::iter(pending)
        .buffered(MAX_CONCURRENT_FETCHES)
        .collect()
        .await;
    Fetches {
        answers: keys.into_iter().zip(results).collect(),
        index,
    }
}

/// What a reference resolves to.
enum Resolved<'a> {
    Secret {
        answer: usize,
        value: &'a Sensitive<String>,
    },
    Default(&'a str),
}

impl Fetches {
    fn no_values(&self) -> Values {
        vec![Vec::new(); self.answers.len()]
    }

    /// Builds the text of `segments`, or the first reference's error; notes in `values` what
    /// was substituted.
    fn substitute(
        &self,
        segments: &[Segment],
        values: &mut Values,
    ) -> Result<Sensitive<String>, RenderError> {
        let mut pieces = Vec::with_capacity(segments.len());
        for segment in segments {
            match segment {
                Segment::Literal(text) => pieces.push(text.as_str()),
                Segment::Reference(r) => match self.resolve(r)? {
                    Resolved::Secret { answer, value } => {
                        if !values[answer].contains(value) {
                            values[answer].push(value.clone());
                        }
                        pieces.push(value.expose().as_str());
                    }
                    Resolved::Default(text) => pieces.push(text),
                },
            }
        }
        // Sized up front so the secret-bearing buffer is never reallocated, which would leave
        // an un-zeroized copy behind in freed memory.
        let mut text = String::with_capacity(pieces.iter().map(|p| p.len()).sum());
        pieces.iter().for_each(|p| text.push_str(p));
        Ok(Sensitive::new(text))
    }

    fn resolve<'a>(&'a self, r: &'a Reference) -> Result<Resolved<'a>, RenderError> {
        let key = (r.provider.clone(), r.path.clone());
        // Every reference was indexed by `fetch_all` before any substitution.
        let answer = self.index[&key];
        let fetched = match &self.answers[answer].1 {
            Ok(fetched) => fetched,
            Err(e) if e.kind == ProviderErrorKind::NotFound && r.default.is_some() => {
                return Ok(Resolved::Default(r.default.as_deref().unwrap_or_default()));
            }
            Err(e) => {
                return Err(RenderError::Provider {
                    reference: r.to_string(),
                    error: ProviderError {
                        kind: e.kind,
                        provider: e.provider.clone(),
                        message: e.message.clone(),
                    },
                })
            }
        };
        let fields = &fetched.secret.fields;
        let value = match &r.field {
            Some(name) => fields.get(name),
            None if fields.len() == 1 => fields.values().next(),
            None if fields.is_empty() => None,
            None => match fields.get("value") {
                Some(value) => Some(value),
                None => {
                    return Err(RenderError::AmbiguousField {
                        reference: r.to_string(),
                        path: r.path.clone(),
                        fields: fields.keys().cloned().collect(),
                    })
                }
            },
        };
        match (value, &r.default, &r.field) {
            (Some(value), _, _) => Ok(Resolved::Secret { answer, value }),
            (None, Some(default), _) => Ok(Resolved::Default(default)),
            (None, None, Some(field)) => Err(RenderError::MissingField {
                reference: r.to_string(),
                field: field.clone(),
                path: r.path.clone(),
            }),
            (None, None, None) => Err(RenderError::NoFields {
                reference: r.to_string(),
                path: r.path.clone(),
            }),
        }
    }

    /// Every secret that was read, with the values substituted from it.
    fn into_used(self, values: Values) -> Vec<Used> {
        self.answers
            .into_iter()
            .zip(values)
            .filter_map(|(((requested, path), answer), values)| {
                let fetched = answer.ok()?;
                Some(Used {
                    provider: fetched.provider,
                    requested,
                    path,
                    lease: fetched.secret.lease.clone(),
                    version: fetched.secret.version.clone(),
                    values,
                })
            })
            .collect()
    }

    /// Revokes the leases of a failed render, best effort: a failure is logged and the lease
    /// then dies at the end of its TTL.
    async fn revoke_all(&self, source: &dyn SecretSource) {
        let leases = self.answers.iter().filter_map(|((_, path), answer)| {
            let fetched = answer.as_ref().ok()?;
            let lease = fetched.secret.lease.as_ref()?;
            Some((fetched.provider.as_str(), path.as_str(), lease.id.as_str()))
        });
        let revocations = leases.map(|(provider, path, lease_id)| async move {
            if let Err(e) = source.revoke(provider, lease_id).await {
                tracing::warn!(provider, path, lease_id, error = %e, "revoking the lease of a failed render failed");
            }
        });
        join_all(revocations).await;
    }
}
