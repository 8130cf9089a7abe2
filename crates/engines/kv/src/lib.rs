//! KV secrets engine, versions 1 and 2, with Vault's API.
