//! The barrier: AES-256-GCM keyring over Storage with the path as AAD, and Shamir split/combine.
