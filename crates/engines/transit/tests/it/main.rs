//! Integration tests of the transit engine through its `Engine` interface, on a memory
//! store with recorded timers.

mod harness;
mod keys;
mod operations;
