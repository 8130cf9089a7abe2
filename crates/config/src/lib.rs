//! Server configuration: HCL in Vault stanzas parsed into raw structs, then validated.
