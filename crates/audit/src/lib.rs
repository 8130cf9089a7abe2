//! Audit devices (file), HMAC of sensitive values, hash-chained lines and their verification.
