//! What one listener lets a client hold, and for how long: the timeouts of each phase of a
//! connection, the connection limit, the HTTP/2 bounds, and the open-file limit the
//! connection limit must stay under.

use std::time::Duration;

/// The bounds of one listener. Every phase in which the server waits on the peer has a
/// deadline, so no connection holds a slot without making progress (see `connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// From accept to the end of the first request's headers (the TLS handshake included),
    /// and from the first byte of a later HTTP/1 request to the end of its headers.
    pub read_header_timeout: Duration,
    /// From the end of a request's headers to the end of its body.
    pub read_timeout: Duration,
    /// From a response being ready to the client having taken it.
    pub write_timeout: Duration,
    /// How long a connection with no request in flight stays open.
    pub idle_timeout: Duration,
    /// Connections open at once; at the limit the longest-idle one is closed to make room.
    pub max_connections: usize,
}

impl ListenerLimits {
    /// Vault's `http_read_header_timeout`, `http_read_timeout` and `http_idle_timeout`
    /// defaults; a bounded write (Vault has none) and 1024 connections.
    pub const DEFAULT: ListenerLimits = ListenerLimits {
        read_header_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(30),
        write_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(5 * 60),
        max_connections: 1024,
    };
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Requests one HTTP/2 connection may have in flight at once.
pub(crate) const H2_MAX_CONCURRENT_STREAMS: u32 = 64;
/// The largest HTTP/2 header block (hyper's default is 16 MiB).
pub(crate) const H2_MAX_HEADER_LIST_SIZE: u32 = 64 * 1024;
/// How often an HTTP/2 connection is pinged, and how long the answer may take, so a peer
/// that vanished mid-request is noticed.
pub(crate) const H2_PING_INTERVAL: Duration = Duration::from_secs(30);
pub(crate) const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// Raises the soft open-file limit to the hard limit, as Go's runtime does for Vault, so the
/// connection limit rather than `EMFILE` is what a flood of connections runs into. Returns
/// the soft limit in force afterwards (`None` when unknown or unlimited).
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum) {
        if current < maximum {
            let raised = rustix::process::Rlimit {
                current: Some(maximum),
                maximum: Some(maximum),
            };
            if let Err(e) = setrlimit(Resource::Nofile, raised) {
                tracing::debug!(error = %e, "cannot raise the open-file limit");
            }
        }
    }
    getrlimit(Resource::Nofile).current
}

/// `max_connections`, lowered when the open-file limit would run out first: a quarter of
/// the descriptors (at least 128) stay for storage, audit files and outbound connections.
pub(crate) fn connection_cap(max_connections: usize, open_files: Option<u64>) -> usize {
    let Some(open_files) = open_files else {
        return max_connections.max(1);
    };
    let spare = (open_files / 4).max(128);
    let usable = usize::try_from(open_files.saturating_sub(spare)).unwrap_or(usize::MAX);
    max_connections.min(usable).max(1)
}

/// The current soft open-file limit (`None` when unlimited).
pub(crate) fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_descriptors_for_everything_else() {
        assert_eq!(connection_cap(1024, None), 1024);
        assert_eq!(connection_cap(1024, Some(1_048_576)), 1024);
        // 1024 descriptors: 256 stay for the rest of the process.
        assert_eq!(connection_cap(1024, Some(1024)), 768);
        assert_eq!(connection_cap(1024, Some(256)), 128);
        assert_eq!(connection_cap(1024, Some(100)), 1);
        assert_eq!(connection_cap(0, None), 1);
    }
}
