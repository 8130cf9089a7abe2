//! The `file` sink of auto-auth: every new token is written to a file that applications read.
//!
//! A write is atomic: the token goes to a temporary file in the sink's directory, created with
//! the configured mode (set explicitly, so the umask cannot widen or narrow it), flushed to
//! disk and renamed over the sink. A reader therefore sees the old token or the new one, never
//! a torn or empty file. The file holds the bare token, without a newline, as Vault Agent's.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use secrethub_common::Sensitive;
use secrethub_config::agent::SinkConfig;

/// A configured `sink "file"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSink {
    path: PathBuf,
    mode: u32,
}

/// Writing a sink failed; names the file, never the token.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the token sink {path}: {source}")]
pub struct SinkError {
    /// The sink's path.
    pub path: PathBuf,
    #[source]
    source: io::Error,
}

impl FileSink {
    /// A sink writing to `path` with permission bits `mode` (e.g. `0o600`).
    pub fn new(path: impl Into<PathBuf>, mode: u32) -> FileSink {
        FileSink {
            path: path.into(),
            mode,
        }
    }

    /// The sink of a validated `sink "file"` stanza.
    pub fn from_config(config: &SinkConfig) -> FileSink {
        FileSink::new(config.path.clone(), config.mode)
    }

    /// Where the token is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the sink's content with `token`, atomically. Blocking: call it from
    /// `spawn_blocking` in async code.
    pub fn write(&self, token: &Sensitive<String>) -> Result<(), SinkError> {
        write_atomic(&self.path, token.expose().as_bytes(), self.mode).map_err(|source| SinkError {
            path: self.path.clone(),
            source,
        })
    }
}

/// Writes `contents` to `path` through a temporary file in the same directory and a rename,
/// leaving `path` with exactly the permission bits `mode`.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let temp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        secrethub_common::random_alnum(10)
    ));
    let result = write_new(&temp, contents, mode).and_then(|()| fs::rename(&temp, path));
    if result.is_err() {
        // Best effort: a leftover temporary file would hold a token.
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Creates `path` (which must not exist) with `mode`, writes and syncs it.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    // `mode` at creation is filtered by the umask; set it again so it is exactly as configured.
    file.set_permissions(Permissions::from_mode(mode))?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_token_with_the_exact_mode_and_replaces_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        let sink = FileSink::new(&path, 0o640);
        sink.write(&Sensitive::new("first".to_string()))
            .expect("write");
        sink.write(&Sensitive::new("second".to_string()))
            .expect("write");
        assert_eq!(fs::read_to_string(&path).expect("read"), "second");
        let mode = fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("token")],
            "no temp left"
        );
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_path_not_the_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sink = FileSink::new(dir.path().join("missing/token"), 0o600);
        let err = sink
            .write(&Sensitive::new("s.secret-token".to_string()))
            .expect_err("no directory");
        let text = format!("{err} {err:?}");
        assert!(text.contains("missing/token"), "{text}");
        assert!(!text.contains("s.secret-token"), "{text}");
    }
}
