//! Template output: [`write_atomically`] puts a rendered file in place (readers see the old or
//! the new file, never half of one, and never a moment of wider permissions), and
//! [`run_command`] runs the `command` a template names after its file changed.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::ExitStatus;

/// Permission bits a mode may carry (rwx for all three classes, setuid, setgid, sticky).
const MODE_BITS: u32 = 0o7777;

/// Writes `contents` to `dest` with permission bits `mode`, atomically: a temporary file in the
/// same directory is created with `mode` (narrowed further by the umask until it is complete),
/// written, synced, given exactly `mode`, and renamed over `dest`.
///
/// Returns `false` without writing when `dest` already holds exactly `contents` with exactly
/// `mode`, so an unchanged render neither touches the file nor triggers its command.
///
/// This blocks on disk IO (fsync); async callers run it in `spawn_blocking`.
pub fn write_atomically(dest: &Path, contents: &[u8], mode: u32) -> io::Result<bool> {
    let mode = mode & MODE_BITS;
    if is_unchanged(dest, contents, mode)? {
        return Ok(false);
    }
    let dir = match dest.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = dest.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a file path", dest.display()),
        )
    })?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        secrethub_common::random_alnum(12)
    ));
    let written = write_new(&temp, contents, mode).and_then(|()| fs::rename(&temp, dest));
    if let Err(e) = written {
        // Best effort: the temporary file may not even exist.
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    // The rename itself is durable only once the directory is synced.
    File::open(dir)?.sync_all()?;
    Ok(true)
}

/// Whether `dest` is a regular file with exactly `contents` and `mode`.
fn is_unchanged(dest: &Path, contents: &[u8], mode: u32) -> io::Result<bool> {
    let mut file = match File::open(dest) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file()
        || meta.permissions().mode() & MODE_BITS != mode
        || meta.len() != contents.len() as u64
    {
        return Ok(false);
    }
    // Compared in place, so the old contents (likely secret) are never held in a second buffer
    // larger than one block.
    let mut block = [0u8; 8192];
    let mut offset = 0;
    loop {
        let n = file.read(&mut block)?;
        if n == 0 {
            return Ok(offset == contents.len());
        }
        if contents.get(offset..offset + n) != Some(&block[..n]) {
            return Ok(false);
        }
        offset += n;
    }
}

/// Creates `path` (which must not exist) with `mode`, writes `contents` and syncs it.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(contents)?;
    // The umask may have narrowed the creation mode; the file gets exactly `mode`.
    file.set_permissions(Permissions::from_mode(mode))?;
    file.sync_all()
}

/// Runs `cmd` with `sh -c`, with `env` added to the inherited environment, and waits for it.
pub async fn run_command(cmd: &str, env: &[(String, String)]) -> io::Result<ExitStatus> {
    tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .status()
        .await
}
