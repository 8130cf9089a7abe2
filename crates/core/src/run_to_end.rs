//! Work that must not be cut short by a caller who goes away: a client that drops its
//! connection cancels its request, and with it every future the request was awaiting.

use std::future::Future;
use std::pin::Pin;

/// Runs `work` in the caller's task and, if the caller is dropped before it is done,
/// finishes it on a task of its own (its output is then dropped).
///
/// Spawning it up front gave the same guarantee but cost every call a second task, and
/// the wake-up of the caller when that task ended, which on the multi-thread runtime often
/// woke the other worker thread as well (measured on `sys/leases/revoke`).
pub(crate) async fn run_to_end<T, F>(work: F) -> T
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let mut guard = FinishOnDrop(Some(Box::pin(work)));
    let out = std::future::poll_fn(|cx| match guard.0.as_mut() {
        Some(work) => work.as_mut().poll(cx),
        None => unreachable!("polled after it finished"),
    })
    .await;
    guard.0 = None;
    out
}

type Work<T> = Pin<Box<dyn Future<Output = T> + Send>>;

struct FinishOnDrop<T: Send + 'static>(Option<Work<T>>);

impl<T: Send + 'static> Drop for FinishOnDrop<T> {
    fn drop(&mut self) {
        let Some(work) = self.0.take() else {
            return;
        };
        // A panic inside the work unwinds through here: it cannot be resumed. Outside a
        // runtime (its shutdown) there is nowhere to finish it; a revocation left half-way
        // is found due and done again by the next scheduler run.
        if std::thread::panicking() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                work.await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn answers_the_works_output() {
        assert_eq!(run_to_end(async { 7 }).await, 7);
    }

    /// A caller dropped while the work waits: the work still runs to its end.
    #[tokio::test]
    async fn a_dropped_caller_leaves_the_work_to_finish() {
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let caller = tokio::spawn(run_to_end(async move {
            let _ = wait.await;
            flag.store(true, Ordering::SeqCst);
            let _ = done_tx.send(());
        }));
        tokio::task::yield_now().await;
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        assert!(!finished.load(Ordering::SeqCst));
        go.send(()).unwrap();
        done_rx.await.expect("the work finished on its own task");
        assert!(finished.load(Ordering::SeqCst));
    }
}
