//! The child process of `secrethub run`: spawned with the rendered secrets added to the
//! inherited environment, sent every forwardable signal we receive (SIGINT, SIGTERM, SIGHUP,
//! SIGQUIT, SIGUSR1, SIGUSR2), and, when masking is on, its stdout and stderr piped through a
//! [`Masker`] that replaces every secret value with `*****`.
//!
//! Signals are sent with `rustix::process::kill_process` (already in the lock file through
//! `tempfile`; `libc::kill` would need `unsafe`). Signal delivery is split in two so tests can
//! drive it without signalling the test process: [`listen_for_signals`] turns OS signals into
//! [`ForwardedSignal`] messages, and [`RunningChild::wait`] forwards whatever messages arrive.
//!
//! Our stdin is inherited by the child and never read here, so closing it does not end the
//! child.
//!
//! Once the child exits, its masked output gets [`DRAIN_AFTER_EXIT`] to come through: a
//! background process it left behind may hold the pipes open indefinitely, and `secrethub run`
//! must end with its child, not with its grandchildren.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use secrethub_common::Sensitive;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use zeroize::{Zeroize, Zeroizing};

/// What a masked secret becomes in the child's output.
pub const MASK: &str = "*****";
/// Values shorter than this are not masked: masking `ab` would garble ordinary output and
/// hide nothing worth hiding.
pub const MIN_MASKED_LEN: usize = 4;
/// How long after the child exits its output may still be copied, while anything else holding
/// the pipes (a grandchild in the background) keeps writing.
pub const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);
/// How long the pumps, once told to stop, get to write out what they hold.
const STOP_GRACE: Duration = Duration::from_millis(500);

/// A signal we pass on to the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedSignal {
    Interrupt,
    Terminate,
    Hangup,
    Quit,
    User1,
    User2,
}

impl ForwardedSignal {
    pub const ALL: [ForwardedSignal; 6] = [
        ForwardedSignal::Interrupt,
        ForwardedSignal::Terminate,
        ForwardedSignal::Hangup,
        ForwardedSignal::Quit,
        ForwardedSignal::User1,
        ForwardedSignal::User2,
    ];

    fn kind(self) -> SignalKind {
        match self {
            ForwardedSignal::Interrupt => SignalKind::interrupt(),
            ForwardedSignal::Terminate => SignalKind::terminate(),
            ForwardedSignal::Hangup => SignalKind::hangup(),
            ForwardedSignal::Quit => SignalKind::quit(),
            ForwardedSignal::User1 => SignalKind::user_defined1(),
            ForwardedSignal::User2 => SignalKind::user_defined2(),
        }
    }

    fn os_signal(self) -> rustix::process::Signal {
        use rustix::process::Signal;
        match self {
            ForwardedSignal::Interrupt => Signal::INT,
            ForwardedSignal::Terminate => Signal::TERM,
            ForwardedSignal::Hangup => Signal::HUP,
            ForwardedSignal::Quit => Signal::QUIT,
            ForwardedSignal::User1 => Signal::USR1,
            ForwardedSignal::User2 => Signal::USR2,
        }
    }
}

/// Starts catching every [`ForwardedSignal`] in this process and returns them as messages.
/// Call it before spawning the child, so a signal arriving meanwhile is not lost (or fatal).
/// Tokio never uninstalls a handler, so these signals stay caught for the process's life.
pub fn listen_for_signals() -> io::Result<mpsc::UnboundedReceiver<ForwardedSignal>> {
    let mut streams = ForwardedSignal::ALL
        .into_iter()
        .map(|s| signal(s.kind()).map(|stream| (s, stream)))
        .collect::<io::Result<Vec<_>>>()?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let received = futures::future::select_all(
                streams
                    .iter_mut()
                    .map(|(s, stream)| Box::pin(async move { stream.recv().await.map(|()| *s) })),
            )
            .await
            .0;
            // A `None` means the runtime is shutting down; so is the receiver's end then.
            let Some(sig) = received else { break };
            if tx.send(sig).is_err() {
                break;
            }
        }
    });
    Ok(rx)
}

/// What to run.
#[derive(Debug)]
pub struct ChildCommand {
    pub program: String,
    pub args: Vec<String>,
    /// Added to (and overriding) the inherited environment.
    pub env: Vec<(String, Sensitive<String>)>,
    /// `Some`: pipe stdout and stderr through a [`Masker`] of these values.
    pub mask: Option<Vec<Sensitive<String>>>,
}

/// Where masked output goes; unused when masking is off (the child then writes to our own
/// stdout and stderr directly).
pub struct OutputSinks {
    pub stdout: Box<dyn AsyncWrite + Send + Unpin>,
    pub stderr: Box<dyn AsyncWrite + Send + Unpin>,
}

impl OutputSinks {
    /// Our own stdout and stderr.
    pub fn inherit() -> Self {
        OutputSinks {
            stdout: Box::new(tokio::io::stdout()),
            stderr: Box::new(tokio::io::stderr()),
        }
    }
}

/// A spawned child and the tasks copying its (masked) output.
#[derive(Debug)]
pub struct RunningChild {
    child: tokio::process::Child,
    pumps: Vec<JoinHandle<()>>,
    /// Tells the pumps to stop reading and flush what they hold.
    stop_pumps: CancellationToken,
}

impl RunningChild {
    /// Spawns `command`. An error names the program.
    pub fn spawn(command: ChildCommand, sinks: OutputSinks) -> io::Result<Self> {
        let mut cmd = tokio::process::Command::new(&command.program);
        cmd.args(&command.args)
            .envs(command.env.iter().map(|(k, v)| (k, v.expose())))
            .stdin(Stdio::inherit());
        if command.mask.is_some() {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", command.program)))?;
        let mut pumps = Vec::new();
        let stop_pumps = CancellationToken::new();
        if let Some(values) = &command.mask {
            if let Some(out) = child.stdout.take() {
                let masker = Masker::new(values);
                let stop = stop_pumps.clone();
                pumps.push(tokio::spawn(pump(out, sinks.stdout, masker, stop)));
            }
            if let Some(err) = child.stderr.take() {
                let masker = Masker::new(values);
                let stop = stop_pumps.clone();
                pumps.push(tokio::spawn(pump(err, sinks.stderr, masker, stop)));
            }
        }
        Ok(RunningChild {
            child,
            pumps,
            stop_pumps,
        })
    }

    /// The child's process id while it has not been reaped.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Sends `sig` to the child. A child already reaped is left alone (its pid may have been
    /// reused); one that exited but is not reaped yet makes this a no-op.
    pub fn forward_signal(&self, sig: ForwardedSignal) -> io::Result<()> {
        let Some(pid) = self
            .child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(rustix::process::Pid::from_raw)
        else {
            return Ok(());
        };
        match rustix::process::kill_process(pid, sig.os_signal()) {
            Ok(()) => Ok(()),
            // Exited between our check and the kill: nothing left to signal.
            Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Waits for the child to exit, forwarding every signal that arrives on `signals`
    /// meanwhile, then for its output to be copied out: in full, or what came within
    /// [`DRAIN_AFTER_EXIT`] when something else still holds the pipes.
    pub async fn wait(
        mut self,
        signals: &mut mpsc::UnboundedReceiver<ForwardedSignal>,
    ) -> io::Result<ExitStatus> {
        let mut listening = true;
        let status = loop {
            tokio::select! {
                status = self.child.wait() => break status?,
                sig = signals.recv(), if listening => match sig {
                    Some(sig) => {
                        if let Err(e) = self.forward_signal(sig) {
                            tracing::warn!(signal = ?sig, error = %e, "forwarding a signal to the child failed");
                        }
                    }
                    None => listening = false,
                },
            }
        };
        // A pump only ends early if it panicked; the exit status still stands.
        let drained = tokio::time::timeout(
            DRAIN_AFTER_EXIT,
            futures::future::join_all(self.pumps.iter_mut()),
        )
        .await;
        if drained.is_err() {
            tracing::warn!(
                "the child exited but its output is still open (a process it left running?); not waiting for it"
            );
            self.stop_pumps.cancel();
            // A handle that already gave its result must not be polled again.
            self.pumps.retain(|p| !p.is_finished());
            let stopped =
                tokio::time::timeout(STOP_GRACE, futures::future::join_all(self.pumps.iter_mut()))
                    .await;
            if stopped.is_err() {
                // Blocked writing to our own output: give up on the rest.
                self.pumps.iter().for_each(JoinHandle::abort);
            }
        }
        Ok(status)
    }
}

/// Runs `command` with our stdout and stderr, forwarding our signals, and returns its status.
pub async fn run_child(command: ChildCommand) -> io::Result<ExitStatus> {
    let mut signals = listen_for_signals()?;
    RunningChild::spawn(command, OutputSinks::inherit())?
        .wait(&mut signals)
        .await
}

/// The exit code a shell would report: the child's own, or 128 + the signal that killed it.
pub fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signo)) => 128 + signo,
        (None, None) => 1,
    }
}

/// Copies `from` to `to` through `masker` until EOF or `stop`, then writes out what the masker
/// held back. It keeps draining the child's output even when `to` fails, so the child never
/// blocks on a full pipe.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: Box<dyn AsyncWrite + Send + Unpin>,
    mut masker: Masker,
    stop: CancellationToken,
) {
    let mut buf = Zeroizing::new(vec![0u8; 8192]);
    let mut writable = true;
    loop {
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            _ = stop.cancelled() => break,
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let out = masker.push(&buf[..n]);
        if writable && write_flushed(&mut to, &out).await.is_err() {
            writable = false;
        }
    }
    let out = masker.finish();
    if writable {
        let _ = write_flushed(&mut to, &out).await;
    }
}

async fn write_flushed(to: &mut (dyn AsyncWrite + Send + Unpin), bytes: &[u8]) -> io::Result<()> {
    to.write_all(bytes).await?;
    to.flush().await
}

/// Replaces secret values in a byte stream with [`MASK`], chunk by chunk.
///
/// At each position the longest value that matches wins. Bytes that could still be the start
/// of a value are held back until the next chunk (at most the longest value's length minus
/// one), so a value split across reads is masked all the same, and anything else is emitted
/// at once. The result does not depend on how the stream was chunked.
pub struct Masker {
    /// Distinct values of at least [`MIN_MASKED_LEN`] bytes, longest first.
    values: Vec<Sensitive<Vec<u8>>>,
    /// Held-back bytes: a prefix of some value.
    pending: Vec<u8>,
}

impl Masker {
    pub fn new(values: &[Sensitive<String>]) -> Self {
        let mut bytes: Vec<Sensitive<Vec<u8>>> = Vec::new();
        for value in values {
            let value = value.expose().as_bytes();
            if value.len() >= MIN_MASKED_LEN && !bytes.iter().any(|b| b.expose() == value) {
                bytes.push(Sensitive::new(value.to_vec()));
            }
        }
        bytes.sort_by_key(|b| std::cmp::Reverse(b.expose().len()));
        Masker {
            values: bytes,
            pending: Vec::new(),
        }
    }

    /// Feeds `chunk`; returns what can be emitted now.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.values.is_empty() {
            return chunk.to_vec();
        }
        self.pending.extend_from_slice(chunk);
        self.scan(false)
    }

    /// Ends the stream; returns the held-back rest.
    pub fn finish(&mut self) -> Vec<u8> {
        self.scan(true)
    }

    fn scan(&mut self, at_end: bool) -> Vec<u8> {
        let buf = &self.pending;
        let mut out = Vec::with_capacity(buf.len());
        let mut i = 0;
        while i < buf.len() {
            let rest = &buf[i..];
            let could_grow = |v: &Sensitive<Vec<u8>>| {
                v.expose().len() > rest.len() && v.expose().starts_with(rest)
            };
            if !at_end && self.values.iter().any(could_grow) {
                break;
            }
            // Longest first, so the first match is the longest.
            match self.values.iter().find(|v| rest.starts_with(v.expose())) {
                Some(value) => {
                    out.extend_from_slice(MASK.as_bytes());
                    i += value.expose().len();
                }
                None => {
                    out.push(buf[i]);
                    i += 1;
                }
            }
        }
        // The old buffer may hold secret bytes (in its spare capacity too): it is replaced by
        // a fresh one holding only the held-back rest, and zeroized on drop.
        let rest = self.pending[i..].to_vec();
        drop(Zeroizing::new(std::mem::replace(&mut self.pending, rest)));
        out
    }
}

impl Drop for Masker {
    fn drop(&mut self) {
        self.pending.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masker(values: &[&str]) -> Masker {
        let values: Vec<_> = values
            .iter()
            .map(|v| Sensitive::new(v.to_string()))
            .collect();
        Masker::new(&values)
    }

    /// Feeds `chunks` and returns everything emitted.
    fn run(m: &mut Masker, chunks: &[&str]) -> String {
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(m.push(chunk.as_bytes()));
        }
        out.extend(m.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn masks_a_value_split_across_two_writes() {
        let mut m = masker(&["s3cr3t-value"]);
        assert_eq!(m.push(b"user=admin pass=s3cr"), b"user=admin pass=");
        assert_eq!(m.push(b"3t-value\n"), b"*****\n");
        assert_eq!(m.finish(), b"");
    }

    #[test]
    fn output_does_not_depend_on_chunking() {
        let text = "a hunter2hunter2 b hunter2x hunter hunt";
        let values = ["hunter2", "hunter2hunter2", "abc"];
        let expected = "a ***** b *****x hunter hunt";
        for split in 0..=text.len() {
            for split2 in split..=text.len() {
                let chunks = [&text[..split], &text[split..split2], &text[split2..]];
                assert_eq!(run(&mut masker(&values), &chunks), expected, "{chunks:?}");
            }
        }
    }

    #[test]
    fn longest_value_wins_and_short_values_stay() {
        let mut m = masker(&["password", "password-long", "pw"]);
        assert_eq!(
            run(&mut m, &["pw password-long password-"]),
            "pw ***** *****-"
        );
    }

    #[test]
    fn a_held_prefix_is_flushed_at_the_end() {
        let mut m = masker(&["secret-value"]);
        assert_eq!(m.push(b"ends with secret-"), b"ends with ");
        assert_eq!(m.finish(), b"secret-");
    }

    #[test]
    fn without_values_everything_passes() {
        let mut m = masker(&["abc"]);
        assert_eq!(m.push(b"abc"), b"abc");
    }

    #[test]
    fn exit_codes_follow_the_shell() {
        assert_eq!(exit_code(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(exit_code(ExitStatus::from_raw(15)), 128 + 15);
    }
}
