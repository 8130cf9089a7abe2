//! HCL policy parsing and ACL evaluation; pure, no IO.
