//! Integration tests of the KV engine: requests go straight to the engine over a
//! `StorageView` on `MemoryStorage`, and answers are compared with inline snapshots.

mod harness;
mod v1;
mod v2_config;
mod v2_data;
mod v2_faults;
mod v2_list;
mod v2_metadata;
mod v2_subkeys;
mod v2_versions;
