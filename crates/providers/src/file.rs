//! [`FileProvider`]: secrets from a local YAML or dotenv file, for development.
//!
//! YAML: the path's segments walk nested maps (`app/db`); a map gives its scalar children as
//! fields, a scalar gives the field `value`. dotenv: the path is the key and the field is
//! `value`. The file is parsed again whenever its modification time or size changes, so an
//! edit shows up on the next read (after the read cache's TTL).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;
use secrethub_config::agent::{FileFormat, FileProviderConfig};

use crate::file_format::{parse_dotenv, parse_yaml, Node};
use crate::{single_value, Health, Provider, ProviderError, ProviderErrorKind, Secret};

/// Reads secrets from one local file.
pub struct FileProvider {
    name: String,
    path: PathBuf,
    format: FileFormat,
    loaded: Mutex<Option<Loaded>>,
}

/// The last parse and the (mtime, size) of the file it came from.
type Loaded = ((SystemTime, u64), Arc<Node>);

impl fmt::Debug for FileProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileProvider")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("format", &self.format)
            .finish()
    }
}

impl FileProvider {
    /// A provider for a `file` stanza; the file is first read on the first read.
    pub fn new(name: &str, config: &FileProviderConfig) -> FileProvider {
        FileProvider {
            name: name.to_string(),
            path: config.path.clone(),
            format: config.format,
            loaded: Mutex::new(None),
        }
    }

    /// The file's contents, parsed again when the file changed since the last parse.
    async fn contents(&self) -> Result<Arc<Node>, ProviderError> {
        let unavailable = |e: std::io::Error| {
            ProviderError::new(
                ProviderErrorKind::Unavailable,
                &self.name,
                format!("reading {}: {e}", self.path.display()),
            )
        };
        let meta = tokio::fs::metadata(&self.path).await.map_err(unavailable)?;
        let stamp = (meta.modified().map_err(unavailable)?, meta.len());
        if let Some((seen, root)) = self.loaded().as_ref() {
            if *seen == stamp {
                return Ok(Arc::clone(root));
            }
        }
        let text = tokio::fs::read_to_string(&self.path)
            .await
            .map_err(unavailable)?;
        let parsed = match self.format {
            FileFormat::Yaml => parse_yaml(&text),
            FileFormat::Dotenv => parse_dotenv(&text),
        };
        drop(secrethub_common::Sensitive::new(text));
        let root = Arc::new(parsed.map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::Invalid,
                &self.name,
                format!("{}: {e}", self.path.display()),
            )
        })?);
        *self.loaded() = Some((stamp, Arc::clone(&root)));
        Ok(root)
    }

    fn loaded(&self) -> std::sync::MutexGuard<'_, Option<Loaded>> {
        // The guarded value is replaced whole, so a poisoned lock still holds a usable one.
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The node at `path`: YAML walks maps segment by segment, dotenv looks the key up whole.
fn lookup<'a>(root: &'a Node, format: FileFormat, path: &str) -> Option<&'a Node> {
    let Node::Map(map) = root else {
        return None;
    };
    match format {
        FileFormat::Dotenv => map.get(path),
        FileFormat::Yaml => {
            let mut segments = path.split('/');
            let first = map.get(segments.next()?)?;
            segments.try_fold(first, |node, segment| match node {
                Node::Map(map) => map.get(segment),
                Node::Value(_) => None,
            })
        }
    }
}

#[async_trait]
impl Provider for FileProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn read(&self, path: &str) -> Result<Secret, ProviderError> {
        let path = path.trim().trim_matches('/');
        if path.is_empty() {
            return Err(ProviderError::new(
                ProviderErrorKind::Invalid,
                &self.name,
                "an empty path names no secret",
            ));
        }
        let root = self.contents().await?;
        let fields = match lookup(&root, self.format, path) {
            None => return Err(ProviderError::not_found(&self.name, path)),
            Some(Node::Value(value)) => single_value(value.expose().clone()),
            Some(Node::Map(children)) => children
                .iter()
                .filter_map(|(key, child)| match child {
                    Node::Value(value) => Some((key.clone(), value.clone())),
                    Node::Map(_) => None,
                })
                .collect::<BTreeMap<_, _>>(),
        };
        Ok(Secret {
            fields,
            lease: None,
            version: None,
        })
    }

    async fn health(&self) -> Health {
        match self.contents().await {
            Ok(_) => Health {
                healthy: true,
                detail: format!("{} is readable", self.path.display()),
            },
            Err(err) => Health {
                healthy: false,
                detail: err.message,
            },
        }
    }
}
