//! Scheduled work of an engine: a static role's password rotation, a key's auto-rotation.
//!
//! An engine sets a named timer through its request ([`crate::Request::schedule`]); core keeps
//! it in one time-ordered index shared by every mount (nothing per timer in memory), and when
//! it falls due calls [`crate::Engine::on_timer`] with its key. The timer is a reminder, not
//! the truth: the engine's own records say whether work is due, so a timer that fires early,
//! twice or after the record it was for is gone is answered with [`TimerOutcome::NotDue`].
//! A timer survives restarts; a failed run is retried with backoff until it succeeds or the
//! engine says it is no longer due.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use secrethub_common::UnixTime;

use crate::EngineError;

/// Durable timers, offered by core to every engine request (see the module docs).
#[async_trait]
pub trait TimerLog: Send + Sync {
    /// Sets the timer `key` (a path relative to the mount, e.g. `rotate-role/billing`,
    /// which also names the timer's run in audit entries) to fire at `at` (Unix seconds),
    /// replacing an earlier setting. Durable when it returns.
    async fn set(&self, key: &str, at: UnixTime) -> Result<(), EngineError>;

    /// Removes the timer `key`; nothing to do when it is not set.
    async fn clear(&self, key: &str) -> Result<(), EngineError>;
}

/// What an engine answers when a timer fires ([`crate::Engine::on_timer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerOutcome {
    /// Nothing was due (yet, or any more). `next`: when to fire again; `None` drops the
    /// timer.
    NotDue {
        /// The next firing, Unix seconds.
        next: Option<UnixTime>,
    },
    /// The work was done; core writes an audit entry for it (operation `update` on the
    /// timer's key, as if a request had asked for it). `next`: as for `NotDue`.
    Ran {
        /// The next firing, Unix seconds.
        next: Option<UnixTime>,
    },
}

/// A [`TimerLog`] kept in memory: what an engine's own tests give their requests, to see
/// which timers the engine sets (core keeps them durably instead).
#[derive(Debug, Default)]
pub struct MemoryTimers(Mutex<BTreeMap<String, UnixTime>>);

impl MemoryTimers {
    /// When the timer `key` is set to fire.
    pub fn due(&self, key: &str) -> Option<UnixTime> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
    }
}

#[async_trait]
impl TimerLog for MemoryTimers {
    async fn set(&self, key: &str, at: UnixTime) -> Result<(), EngineError> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string(), at);
        Ok(())
    }

    async fn clear(&self, key: &str) -> Result<(), EngineError> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        Ok(())
    }
}
