//! PostgreSQL storage: one table of key/value rows, created on start.
