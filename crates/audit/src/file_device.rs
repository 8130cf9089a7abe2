//! `FileDevice`: Vault's `file` audit device, writing one hash-chained JSON line per entry,
//! each with an HMAC under the device's chain key when it has one (see `chain`).
//!
//! `file_path` may be a path, `"stdout"` or `"discard"` (as in Vault). Writes are serialized by
//! a std `Mutex` held only for one `write_all` (no `.await` under it); appends land in the page
//! cache like Vault's, without an fsync per entry. Any write failure is returned so core can
//! fail the request (fail closed).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::chain::{self, ChainPosition};
use crate::error::AuditError;
use crate::event::AuditEvent;
use crate::hashing::{hash_event, hash_value};
use crate::verify::{verify_keyed, ChainHead, ExpectedChain, VerifyReport};
use crate::AuditDevice;

/// `file_path` value that writes entries to the process's standard output.
pub const STDOUT_PATH: &str = "stdout";
/// `file_path` value that accepts and drops entries (useful for benchmarks).
pub const DISCARD_PATH: &str = "discard";

/// Options of a file audit device (Vault's `log_raw` and `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileOptions {
    /// Write tokens and data in clear instead of HMACing them. Off by default; only for debugging.
    pub log_raw: bool,
    /// Permission bits of the log file, applied on every open as Vault does; `0` leaves an
    /// existing file's permissions alone (a new file then gets `0o600`).
    pub mode: u32,
}

impl Default for FileOptions {
    fn default() -> Self {
        Self {
            log_raw: false,
            mode: 0o600,
        }
    }
}

/// An audit device appending hash-chained JSON lines to a file.
pub struct FileDevice {
    path: PathBuf,
    hmac_key: Zeroizing<Vec<u8>>,
    chain_key: Option<Zeroizing<Vec<u8>>>,
    options: FileOptions,
    state: Mutex<WriterState>,
}

struct WriterState {
    sink: Sink,
    chain: ChainPosition,
    /// Set after a failed write: the file may end in a torn line, and the chain position must be
    /// re-read from the file before the next entry.
    resync: bool,
}

enum Sink {
    File(File),
    Stdout,
    Discard,
}

impl FileDevice {
    /// Opens (creating with `options.mode`) the log at `path` for appending, and continues the
    /// hash chain from its last line, without a chain key (lines carry no `mac`).
    pub fn open(
        path: &Path,
        hmac_key: Zeroizing<Vec<u8>>,
        options: FileOptions,
    ) -> Result<FileDevice, AuditError> {
        FileDevice::open_keyed(path, hmac_key, None, options)
    }

    /// Like [`FileDevice::open`], and every line written carries a `mac` under `chain_key`, so
    /// only a holder of the key can recompute the chain ([`crate::verify_keyed`] checks it).
    pub fn open_keyed(
        path: &Path,
        hmac_key: Zeroizing<Vec<u8>>,
        chain_key: Option<Zeroizing<Vec<u8>>>,
        options: FileOptions,
    ) -> Result<FileDevice, AuditError> {
        if path.as_os_str().is_empty() {
            return Err(AuditError::InvalidOption {
                option: "file_path",
                reason: "must not be empty".into(),
            });
        }
        if options.mode > 0o777 {
            return Err(AuditError::InvalidOption {
                option: "mode",
                reason: format!("{:o} is not a permission mode (at most 777)", options.mode),
            });
        }
        let (sink, chain) = open_sink(path, options.mode)?;
        Ok(FileDevice {
            path: path.to_path_buf(),
            hmac_key,
            chain_key,
            options,
            state: Mutex::new(WriterState {
                sink,
                chain,
                resync: false,
            }),
        })
    }

    /// The configured `file_path`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last line written (or found at open): what a checkpoint records. `None` for stdout,
    /// discard and files that are not regular files (such as `/dev/full`): nothing to verify.
    pub fn head(&self) -> Option<ChainHead> {
        let state = self.lock_state();
        match &state.sink {
            Sink::File(file) if file.metadata().is_ok_and(|m| m.is_file()) => Some(ChainHead {
                seq: state.chain.next_seq.saturating_sub(1),
                mac: state.chain.last_mac.clone(),
            }),
            Sink::File(_) | Sink::Stdout | Sink::Discard => None,
        }
    }

    /// Reopens `path`, e.g. on SIGHUP after logrotate renamed the file; the chain continues from
    /// whatever file is now at `path` (a new file starts again at `seq` 1).
    pub fn reopen(&self) -> Result<(), AuditError> {
        let mut state = self.lock_state();
        // Opened under the lock so no entry is written between reading the tail and swapping.
        let (sink, chain) = open_sink(&self.path, self.options.mode)?;
        *state = WriterState {
            sink,
            chain,
            resync: false,
        };
        Ok(())
    }

    fn lock_state(&self) -> MutexGuard<'_, WriterState> {
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => {
                // A panic under the lock can only have interrupted a write: re-read the chain
                // position from the file before the next entry, and carry on.
                self.state.clear_poison();
                let mut guard = poisoned.into_inner();
                guard.resync = true;
                guard
            }
        }
    }

    /// Appends one serialized entry as the next link of the chain.
    fn append(&self, body: &str) -> Result<(), AuditError> {
        let write_err = |source| AuditError::Write {
            path: self.path.clone(),
            source,
        };
        let mut guard = self.lock_state();
        let state = &mut *guard;
        if state.resync {
            if let Sink::File(file) = &mut state.sink {
                state.chain = chain::resume(file).map_err(write_err)?;
            }
            state.resync = false;
        }
        let chain_key = self.chain_key.as_ref().map(|k| k.as_slice());
        let (line, mac) = chain::chained_line(body, &state.chain, chain_key);
        match state.sink.write_line(&line) {
            Ok(()) => {
                // `line` ends with the newline, which is not part of the hashed bytes.
                state.chain.advance(&line[..line.len() - 1], mac);
                Ok(())
            }
            Err(source) => {
                state.resync = true;
                Err(write_err(source))
            }
        }
    }
}

/// Opens the sink for `path` and finds where its chain continues.
fn open_sink(path: &Path, mode: u32) -> Result<(Sink, ChainPosition), AuditError> {
    if path == Path::new(STDOUT_PATH) {
        return Ok((Sink::Stdout, ChainPosition::start()));
    }
    if path == Path::new(DISCARD_PATH) {
        return Ok((Sink::Discard, ChainPosition::start()));
    }
    let open_err = |source| AuditError::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    // Read access is needed to pick up the chain from the last line.
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if mode == 0 { 0o600 } else { mode });
    }
    let mut file = options.open(path).map_err(open_err)?;
    // The creation mode is filtered by the umask and does not apply to an existing file, so set
    // it explicitly; only on regular files, never on a device such as /dev/full.
    #[cfg(unix)]
    if mode != 0 && file.metadata().map_err(open_err)?.is_file() {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(open_err)?;
    }
    let chain = chain::resume(&mut file).map_err(open_err)?;
    Ok((Sink::File(file), chain))
}

impl Sink {
    /// One `write_all` per line, so with `O_APPEND` a line is never interleaved with another.
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        match self {
            Sink::File(file) => {
                file.write_all(line)?;
                file.flush()
            }
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(line)?;
                out.flush()
            }
            Sink::Discard => Ok(()),
        }
    }
}

#[async_trait]
impl AuditDevice for FileDevice {
    fn device_type(&self) -> &'static str {
        "file"
    }

    async fn log(&self, event: &AuditEvent) -> Result<(), AuditError> {
        // Hash and serialize before taking the lock; only the append is serialized.
        let body = if self.options.log_raw {
            serde_json::to_string(event)
        } else {
            serde_json::to_string(&hash_event(event, &self.hmac_key))
        }
        .map_err(AuditError::Serialize)?;
        self.append(&body)
    }

    fn hash(&self, value: &str) -> String {
        hash_value(&self.hmac_key, value)
    }

    fn reopen(&self) -> Result<(), AuditError> {
        FileDevice::reopen(self)
    }

    fn chain_head(&self) -> Option<ChainHead> {
        self.head()
    }

    fn verify_chain(&self, expected: &ExpectedChain) -> Result<Option<VerifyReport>, AuditError> {
        match (&self.chain_key, self.head()) {
            (Some(key), Some(_)) => verify_keyed(&self.path, key, expected).map(Some),
            _ => Ok(None),
        }
    }
}

impl fmt::Debug for FileDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileDevice")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
