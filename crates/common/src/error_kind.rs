//! The closed set of error categories; `server` alone maps each to an HTTP status.

/// What kind of failure an error is. Every crate's error type exposes `fn kind(&self) -> ErrorKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Malformed or invalid input (400).
    BadRequest,
    /// The caller's token does not grant the operation (403).
    PermissionDenied,
    /// Unknown path or missing secret (404).
    NotFound,
    /// The path exists but does not support the operation (405).
    UnsupportedOperation,
    /// A precondition failed, e.g. a check-and-set version mismatch (400 in Vault, kept apart here).
    Conflict,
    /// The request body is larger than the server accepts (413).
    PayloadTooLarge,
    /// Too many requests or a quota was exceeded (429).
    RateLimited,
    /// The barrier is sealed (503).
    Sealed,
    /// A dependency (storage, upstream system) is unreachable right now (503/502).
    Unavailable,
    /// A bug or an unexpected failure; the client sees a generic message (500).
    Internal,
}
