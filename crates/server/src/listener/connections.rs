//! The connection table of one listener: how many connections are open, what each is doing,
//! and when each must close.
//!
//! The rule that makes slow or silent clients harmless: a connection always has a deadline
//! unless the server itself is working on one of its requests.
//! - Before its first request (TLS handshake, HTTP/2 preface, headers): `read_header_timeout`
//!   from accept.
//! - Reading a request body: `read_timeout` from the end of its headers (the request body
//!   carries that deadline, see `service`).
//! - A response ready but not yet taken by the client: `write_timeout`.
//! - No request in flight: `idle_timeout`, or for HTTP/1 `read_header_timeout` from the first
//!   byte of the next request.
//!
//! And at the connection limit a new connection closes the connection that has been idle
//! longest rather than waiting for it or being refused: an idle connection can be closed at
//! any moment without losing work, so holding connections open gains an attacker nothing,
//! and `sys/health` is answered on a fresh connection as long as one connection is idle.
//! (A reserve of slots would fill up by the same attack.) Only when every connection has a
//! request in flight is a new one closed at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::limits::ListenerLimits;

/// How long a new connection waits for the slot of the connection it evicted.
const EVICTION_WAIT: Duration = Duration::from_secs(1);

/// The open connections of one listener.
pub(crate) struct Connections {
    limits: ListenerLimits,
    slots: Arc<Semaphore>,
    table: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
}

impl Connections {
    pub(crate) fn new(limits: ListenerLimits, max_connections: usize) -> Arc<Self> {
        Arc::new(Self {
            limits,
            slots: Arc::new(Semaphore::new(max_connections.max(1))),
            table: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        })
    }

    /// A slot for a new connection: a free one, or the one of the longest-idle connection,
    /// which is closed for it. `None` when every connection has a request in flight.
    pub(crate) async fn admit(self: &Arc<Self>) -> Option<Registration> {
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !self.evict_longest_idle() {
                    return None;
                }
                let acquire = self.slots.clone().acquire_owned();
                tokio::time::timeout(EVICTION_WAIT, acquire)
                    .await
                    .ok()?
                    .ok()?
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new(Instant::now(), self.limits));
        self.lock().insert(id, conn.clone());
        Some(Registration {
            connections: self.clone(),
            id,
            conn,
            _permit: permit,
        })
    }

    /// Closes the connection with no request in flight that has been idle longest; false
    /// when there is none.
    pub(crate) fn evict_longest_idle(&self) -> bool {
        let mut table = self.lock();
        let longest_idle = table
            .iter()
            .filter_map(|(id, conn)| conn.state().idle_since().map(|since| (since, *id)))
            .min();
        let Some((_, id)) = longest_idle else {
            return false;
        };
        if let Some(conn) = table.remove(&id) {
            conn.evicted.cancel();
        }
        true
    }

    /// Connections now open.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        // A panic while holding this lock leaves the map intact (inserts and removes only).
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connection's place in the table and its slot, both given back on drop.
pub(crate) struct Registration {
    connections: Arc<Connections>,
    id: u64,
    conn: Arc<Conn>,
    _permit: OwnedSemaphorePermit,
}

impl Registration {
    pub(crate) fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.connections.lock().remove(&self.id);
    }
}

/// One connection: what it is doing, a signal when its deadline comes earlier, and its
/// eviction.
pub(crate) struct Conn {
    limits: ListenerLimits,
    state: Mutex<ConnState>,
    changed: Notify,
    /// Cancelled when the connection is closed to make room for a new one.
    pub(crate) evicted: CancellationToken,
}

/// Why a connection was closed by its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// No complete request headers in time.
    Headers,
    /// A response not taken by the client in time.
    Write,
    /// No request for too long.
    Idle,
}

impl Expiry {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Expiry::Headers => "request headers not received in time",
            Expiry::Write => "response not taken by the client in time",
            Expiry::Idle => "idle too long",
        }
    }
}

/// What a connection is doing, in the terms of its deadlines.
#[derive(Debug, Clone)]
pub(crate) struct ConnState {
    accepted_at: Instant,
    served: bool,
    http2: bool,
    /// Requests whose handler has not answered yet.
    handling: usize,
    /// Answered requests whose response the client has not taken yet.
    writing: usize,
    writing_since: Instant,
    idle_since: Instant,
    /// The first byte received since the connection went idle.
    read_while_idle: Option<Instant>,
    /// When the task waiting in [`Conn::expired`] looks at the deadline again by itself (at
    /// first: right away, since its first poll reads the state).
    waiter_wakes_at: Instant,
}

impl ConnState {
    fn new(now: Instant) -> Self {
        Self {
            accepted_at: now,
            served: false,
            http2: false,
            handling: 0,
            writing: 0,
            writing_since: now,
            idle_since: now,
            read_while_idle: None,
            waiter_wakes_at: now,
        }
    }

    fn is_idle(&self) -> bool {
        self.handling == 0 && self.writing == 0
    }

    /// Since when the connection has had no request in flight; `None` while it has one.
    fn idle_since(&self) -> Option<Instant> {
        self.is_idle().then_some(self.idle_since)
    }

    /// When the connection must close unless its state changes first; `None` while a
    /// handler works on one of its requests and no response waits for the client.
    pub(crate) fn deadline(&self, limits: &ListenerLimits) -> Option<(Instant, Expiry)> {
        if self.writing > 0 {
            return Some((self.writing_since + limits.write_timeout, Expiry::Write));
        }
        if self.handling > 0 {
            return None;
        }
        if !self.served {
            return Some((
                self.accepted_at + limits.read_header_timeout,
                Expiry::Headers,
            ));
        }
        match self.read_while_idle {
            Some(first_byte) if !self.http2 => {
                Some((first_byte + limits.read_header_timeout, Expiry::Headers))
            }
            _ => Some((self.idle_since + limits.idle_timeout, Expiry::Idle)),
        }
    }
}

impl Conn {
    fn new(now: Instant, limits: ListenerLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(ConnState::new(now)),
            changed: Notify::new(),
            evicted: CancellationToken::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ConnState> {
        // Every update leaves the state consistent, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the state and wakes the waiter in [`Conn::expired`] only if the deadline now
    /// comes before the waiter would look again by itself. A deadline that went away or moved
    /// later needs no wake: the waiter looks again at its own time.
    fn update(&self, f: impl FnOnce(&mut ConnState)) {
        let mut state = self.state();
        f(&mut state);
        let wake = state
            .deadline(&self.limits)
            .is_some_and(|(at, _)| at < state.waiter_wakes_at);
        drop(state);
        if wake {
            self.changed.notify_one();
        }
    }

    /// Bytes arrived from the client.
    pub(crate) fn on_read(&self) {
        let state = self.state();
        if state.served && state.is_idle() && state.read_while_idle.is_none() {
            drop(state);
            self.update(|s| s.read_while_idle = Some(Instant::now()));
        }
    }

    /// A request's headers arrived; the guard marks the request in flight until dropped.
    pub(crate) fn start_request(self: &Arc<Self>, http2: bool) -> Handling {
        self.update(|s| {
            s.served = true;
            s.http2 = http2;
            s.handling += 1;
            s.read_while_idle = None;
        });
        Handling(self.clone())
    }

    /// Waits until the connection's deadline passes; the caller then closes it.
    ///
    /// The waiter looks at the deadline on a timer of its own and never sleeps longer than
    /// the shortest phase timeout: every deadline a request sets is "now + a phase timeout",
    /// so it falls after the waiter's next look and no change on the request path has to
    /// wake it or move its timer. (Each wake was costly: the waiter runs in the connection's
    /// own task, a task woken while it runs is queued behind the others and wakes a second
    /// worker thread, and a request made four changes.) An idle connection's task is polled
    /// once per shortest timeout, 10 s by default. What the timer is set for is published in
    /// the state under the lock the deadline is read with, so [`Conn::update`] can still wake
    /// the waiter for a deadline that comes before it (none does today).
    pub(crate) async fn expired(&self) -> Expiry {
        let look_every = self
            .limits
            .read_header_timeout
            .min(self.limits.write_timeout)
            .min(self.limits.idle_timeout)
            .max(Duration::from_millis(1));
        let timer = tokio::time::sleep_until(Instant::now());
        tokio::pin!(timer);
        loop {
            {
                let mut state = self.state();
                let now = Instant::now();
                let deadline = state.deadline(&self.limits);
                if let Some((at, why)) = deadline {
                    if at <= now {
                        return why;
                    }
                }
                let look_again = now + look_every;
                let wake_at = deadline.map_or(look_again, |(at, _)| at.min(look_again));
                timer.as_mut().reset(wake_at);
                state.waiter_wakes_at = wake_at;
            }
            tokio::select! {
                () = &mut timer => {}
                () = self.changed.notified() => {}
            }
        }
    }
}

/// A request whose handler has not answered yet.
pub(crate) struct Handling(Arc<Conn>);

impl Handling {
    /// The handler answered: the request stays in flight until the response is taken.
    pub(crate) fn into_writing(self) -> Writing {
        let conn = self.0.clone();
        conn.update(|s| {
            if s.writing == 0 {
                s.writing_since = Instant::now();
            }
            s.writing += 1;
        });
        // Dropping `self` ends the handling part.
        drop(self);
        Writing(conn)
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.update(|s| {
            s.handling -= 1;
            if s.is_idle() {
                s.idle_since = Instant::now();
            }
        });
    }
}

/// A response the client has not taken yet; dropped with the response body.
pub(crate) struct Writing(Arc<Conn>);

impl Drop for Writing {
    fn drop(&mut self) {
        self.0.update(|s| {
            s.writing -= 1;
            if s.is_idle() {
                s.idle_since = Instant::now();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ListenerLimits = ListenerLimits {
        read_header_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(30),
        write_timeout: Duration::from_secs(20),
        idle_timeout: Duration::from_secs(300),
        max_connections: 2,
    };

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[tokio::test(start_paused = true)]
    async fn every_phase_without_server_work_has_a_deadline() {
        let t0 = Instant::now();
        let conn = Arc::new(Conn::new(t0, LIMITS));
        let deadline = || conn.state().deadline(&LIMITS);
        assert_eq!(deadline(), Some((t0 + secs(10), Expiry::Headers)));

        tokio::time::advance(secs(1)).await;
        let handling = conn.start_request(false);
        assert_eq!(deadline(), None, "the handler is working");

        tokio::time::advance(secs(2)).await;
        let writing = handling.into_writing();
        assert_eq!(deadline(), Some((t0 + secs(3 + 20), Expiry::Write)));

        tokio::time::advance(secs(1)).await;
        drop(writing);
        assert_eq!(deadline(), Some((t0 + secs(4 + 300), Expiry::Idle)));

        tokio::time::advance(secs(5)).await;
        conn.on_read();
        assert_eq!(deadline(), Some((t0 + secs(9 + 10), Expiry::Headers)));
        conn.on_read();
        assert_eq!(deadline(), Some((t0 + secs(9 + 10), Expiry::Headers)));
        drop(conn.start_request(false));
        assert_eq!(deadline(), Some((t0 + secs(9 + 300), Expiry::Idle)));
    }

    #[tokio::test(start_paused = true)]
    async fn http2_pings_while_idle_do_not_start_the_header_clock() {
        let t0 = Instant::now();
        let conn = Arc::new(Conn::new(t0, LIMITS));
        drop(conn.start_request(true));
        conn.on_read();
        assert_eq!(
            conn.state().deadline(&LIMITS),
            Some((t0 + secs(300), Expiry::Idle))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn expired_follows_state_changes() {
        let conn = Arc::new(Conn::new(Instant::now(), LIMITS));
        let handling = conn.start_request(false);
        let waiter = {
            let conn = conn.clone();
            tokio::spawn(async move { (conn.expired().await, Instant::now()) })
        };
        tokio::time::advance(secs(1000)).await;
        let answered = Instant::now();
        let writing = handling.into_writing();
        let (why, at) = waiter.await.unwrap();
        assert_eq!(why, Expiry::Write);
        assert_eq!(at, answered + secs(20));
        drop(writing);
    }

    /// The timer set for an earlier deadline fires early and is set again: the connection
    /// closes at the later deadline, not at the one it replaced.
    #[tokio::test(start_paused = true)]
    async fn expired_waits_for_a_deadline_that_moved_later() {
        let t0 = Instant::now();
        let conn = Arc::new(Conn::new(t0, LIMITS));
        drop(conn.start_request(false).into_writing());
        let waiter = {
            let conn = conn.clone();
            tokio::spawn(async move { (conn.expired().await, Instant::now()) })
        };
        tokio::time::advance(secs(100)).await;
        let writing = conn.start_request(false).into_writing();
        tokio::time::advance(secs(10)).await;
        drop(writing);
        let (why, at) = waiter.await.unwrap();
        assert_eq!(why, Expiry::Idle);
        assert_eq!(at, t0 + secs(110 + 300));
    }

    /// Whether a wake for the waiter in `expired` is pending.
    async fn woken(conn: &Conn) -> bool {
        tokio::time::timeout(Duration::ZERO, conn.changed.notified())
            .await
            .is_ok()
    }

    /// Every deadline a request sets lies after the waiter's next look, so serving a request
    /// wakes no one (a wake of the connection's own task while it runs costs a second worker
    /// thread's wake-up). A change whose deadline would come first still wakes the waiter.
    #[tokio::test(start_paused = true)]
    async fn a_request_does_not_wake_the_waiter_unless_its_deadline_comes_first() {
        let conn = Arc::new(Conn::new(Instant::now(), LIMITS));
        drop(conn.start_request(false).into_writing());
        let waiter = {
            let conn = conn.clone();
            tokio::spawn(async move { conn.expired().await })
        };
        tokio::task::yield_now().await;
        let looked = Instant::now();
        assert_eq!(conn.state().waiter_wakes_at, looked + secs(10));
        assert!(!woken(&conn).await);

        tokio::time::advance(secs(1)).await;
        conn.on_read();
        let handling = conn.start_request(false);
        tokio::time::advance(secs(1)).await;
        let writing = handling.into_writing();
        drop(writing);
        assert!(!woken(&conn).await, "no deadline of a request comes first");

        // A waiter that would look again later than the write deadline is woken for it.
        conn.state().waiter_wakes_at = Instant::now() + secs(300);
        let writing = conn.start_request(false).into_writing();
        assert!(woken(&conn).await);
        drop(writing);
        waiter.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_limit_the_longest_idle_connection_makes_room() {
        let connections = Connections::new(LIMITS, 2);
        let first = connections.admit().await.unwrap();
        tokio::time::advance(secs(1)).await;
        let second = connections.admit().await.unwrap();
        tokio::time::advance(secs(1)).await;
        // Dropping the registration stands for the evicted connection's task ending.
        let closer = {
            let conn = first.conn().clone();
            tokio::spawn(async move {
                conn.evicted.cancelled().await;
                drop(first);
            })
        };
        let third = connections.admit().await.unwrap();
        closer.await.unwrap();
        assert!(!second.conn().evicted.is_cancelled());
        assert_eq!(connections.open(), 2);

        // With both remaining connections busy, a new one is turned away.
        let _busy = (
            second.conn().start_request(false),
            third.conn().start_request(false),
        );
        assert!(connections.admit().await.is_none());
        assert_eq!(connections.open(), 2);
    }
}
