//! The text of the built-in `default` policy, attached to every token unless asked otherwise.
//! It lets a token manage itself and its own cubbyhole and use a few harmless tools, which is
//! what Vault's own default policy grants; nothing in it reaches a secret of anyone else.

/// The built-in `default` policy (HCL). Templated: core renders it per token, and drops the
/// identity rules for tokens without an entity.
pub const DEFAULT_POLICY: &str = r#"# The built-in default policy: what every token may do about itself.

# Read its own properties, renew itself, revoke itself.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# Ask which capabilities it has on a path.
path "sys/capabilities-self" {
  capabilities = ["update"]
}

# Read its own identity entity.
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}

# See the merged result of its policies (used by the web UI).
path "sys/internal/ui/resultant-acl" {
  capabilities = ["read"]
}

# Renew and look up leases whose ID it knows (old and new renew paths).
path "sys/renew" {
  capabilities = ["update"]
}
path "sys/leases/renew" {
  capabilities = ["update"]
}
path "sys/leases/lookup" {
  capabilities = ["update"]
}

# Its private cubbyhole.
path "cubbyhole/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

# Response wrapping: wrap a value, inspect and unwrap a wrapping token.
path "sys/wrapping/wrap" {
  capabilities = ["update"]
}
path "sys/wrapping/lookup" {
  capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}

# Hashing helpers.
path "sys/tools/hash" {
  capabilities = ["update"]
}
path "sys/tools/hash/*" {
  capabilities = ["update"]
}

# Request access through a control group.
path "sys/control-group/request" {
  capabilities = ["update"]
}

# Use the authorization endpoint of OIDC providers.
path "identity/oidc/provider/+/authorize" {
  capabilities = ["read", "update"]
}
"#;
