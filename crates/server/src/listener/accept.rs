//! The accept loop: takes connections off a socket and hands them on, pausing after errors
//! (5 ms, doubling to 1 s, reset by the next success) so a process out of file descriptors
//! does not spin, and reporting errors at most once a second with a count of those left out.
//!
//! The socket is behind [`Accept`] so tests can feed the loop errors without exhausting
//! real descriptors.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The first pause after an accept error.
pub(crate) const FIRST_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause between accepts while errors continue.
pub(crate) const MAX_PAUSE: Duration = Duration::from_secs(1);
/// At most one error report per this window.
pub(crate) const REPORT_WINDOW: Duration = Duration::from_secs(1);

/// Something connections are accepted from.
pub(crate) trait Accept {
    /// One accepted connection.
    type Stream;
    /// The next connection or error.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
}

impl Accept for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;

    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send {
        tokio::net::TcpListener::accept(self)
    }
}

/// Exponential pause between failing accepts.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self { next: FIRST_PAUSE }
    }

    /// The pause after one more error.
    pub(crate) fn pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(MAX_PAUSE);
        pause
    }

    pub(crate) fn reset(&mut self) {
        self.next = FIRST_PAUSE;
    }
}

/// Lets one report through per window and counts the ones it holds back.
#[derive(Debug)]
pub(crate) struct ReportLimiter {
    window: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl ReportLimiter {
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(number held back since the last report)` when this one should be reported.
    pub(crate) fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < self.window => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// Errors of `accept` that concern one connection, not the listener: no pause needed.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Accepts until `shutdown`, awaiting `handle` for each connection (admission happens
/// there, so a full listener slows accepting down). After an error it calls
/// `on_error(error, report)`, where `report` is `Some(held back)` at most once a
/// [`REPORT_WINDOW`], then pauses.
pub(crate) async fn accept_loop<A, H, F>(
    mut socket: A,
    shutdown: CancellationToken,
    mut on_error: impl FnMut(&io::Error, Option<u64>),
    mut handle: H,
) where
    A: Accept,
    H: FnMut(A::Stream, SocketAddr) -> F,
    F: Future<Output = ()>,
{
    let mut backoff = Backoff::new();
    let mut reports = ReportLimiter::new(REPORT_WINDOW);
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = socket.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff.reset();
                handle(stream, peer).await;
            }
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                on_error(&e, reports.allow(Instant::now()));
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff.pause()) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Answers from a script, recording when each accept was asked for; once the script is
    /// done it cancels the loop.
    struct Scripted {
        script: VecDeque<io::Result<()>>,
        calls: Arc<Mutex<Vec<Instant>>>,
        done: CancellationToken,
    }

    impl Accept for Scripted {
        type Stream = ();

        fn accept(&mut self) -> impl Future<Output = io::Result<((), SocketAddr)>> + Send {
            self.calls.lock().unwrap().push(Instant::now());
            let next = self.script.pop_front();
            if next.is_none() {
                self.done.cancel();
            }
            async move {
                match next {
                    Some(r) => r.map(|()| ((), SocketAddr::from(([127, 0, 0, 1], 1)))),
                    None => std::future::pending().await,
                }
            }
        }
    }

    fn emfile() -> io::Result<()> {
        // EMFILE: "Too many open files".
        Err(io::Error::from_raw_os_error(24))
    }

    /// Runs the loop over `script` on the paused clock; returns the gaps between accepts in
    /// milliseconds and the reports made (held-back counts).
    async fn run(script: Vec<io::Result<()>>) -> (Vec<u128>, Vec<u64>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let done = CancellationToken::new();
        let socket = Scripted {
            script: script.into(),
            calls: calls.clone(),
            done: done.clone(),
        };
        let mut reports = Vec::new();
        accept_loop(
            socket,
            done,
            |_, report| reports.extend(report),
            |(), _| async {},
        )
        .await;
        let calls = calls.lock().unwrap();
        let gaps = calls
            .windows(2)
            .map(|w| (w[1] - w[0]).as_millis())
            .collect();
        (gaps, reports)
    }

    #[tokio::test(start_paused = true)]
    async fn errors_back_off_from_5ms_doubling_to_1s_and_a_success_resets() {
        let mut script: Vec<_> = (0..10).map(|_| emfile()).collect();
        script.push(Ok(()));
        script.extend([emfile(), emfile()]);
        let (gaps, _) = run(script).await;
        assert_eq!(
            gaps,
            [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 0, 5, 10]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn connection_errors_neither_pause_nor_report() {
        let aborted = || Err(io::Error::from(io::ErrorKind::ConnectionAborted));
        let (gaps, reports) = run(vec![aborted(), aborted(), Ok(())]).await;
        assert_eq!(gaps, [0, 0, 0]);
        assert!(reports.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn reports_come_at_most_once_a_second_with_the_count_held_back() {
        // Pauses 5+10+20+40+80+160+320+640 = 1275 ms: the 9th error (at 1275 ms) is the
        // first a second after the 1st, then every error is a second apart.
        let script = (0..12).map(|_| emfile()).collect();
        let (_, reports) = run(script).await;
        assert_eq!(reports, [0, 7, 0, 0, 0]);
    }

    #[test]
    fn the_limiter_counts_what_it_holds_back() {
        let start = Instant::now();
        let mut limiter = ReportLimiter::new(Duration::from_secs(1));
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(limiter.allow(at(0)), Some(0));
        assert_eq!(limiter.allow(at(1)), None);
        assert_eq!(limiter.allow(at(999)), None);
        assert_eq!(limiter.allow(at(1000)), Some(2));
        assert_eq!(limiter.allow(at(5000)), Some(0));
    }
}
