//! Template output: [`write_atomically`] puts a rendered file in place (readers see the old or
//! the new file, never half of one, and never a moment of wider permissions), and
//! [`run_bounded`] runs a template's `command` (and `on_failed`) with a time limit.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

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

/// How long a template's command may run before it is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// How a command ended.
#[derive(Debug)]
pub enum CommandOutcome {
    Exited(ExitStatus),
    /// It ran past its time limit and was killed.
    TimedOut,
    /// The agent is stopping; the command was killed.
    ShutDown,
}

/// Runs `command` with `sh -c` (with `env` added to the inherited environment) in a process
/// group of its own, killing the group when it outlives `limit` or `shutdown` fires. Used for
/// a template's `command` and for `on_failed`.
pub async fn run_bounded(
    command: &str,
    env: &[(String, String)],
    limit: Duration,
    shutdown: &CancellationToken,
) -> io::Result<CommandOutcome> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let outcome = tokio::select! {
        status = child.wait() => return Ok(CommandOutcome::Exited(status?)),
        _ = tokio::time::sleep(limit) => CommandOutcome::TimedOut,
        _ = shutdown.cancelled() => CommandOutcome::ShutDown,
    };
    // The group (pgid = the shell's pid) also holds whatever the shell started.
    if let Some(pgid) = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    }
    // Kills the shell if the group kill missed it, and reaps it.
    child.kill().await?;
    Ok(outcome)
}
