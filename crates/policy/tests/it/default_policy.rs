//! The built-in `default` policy and templated policies.

use expect_test::expect;
use secrethub_policy::{Acl, Capability, Policy, DEFAULT_POLICY};
use serde_json::Map;

use crate::{capability_table, policy};

const PATHS: &[&str] = &[
    "auth/token/lookup-self",
    "auth/token/renew-self",
    "auth/token/revoke-self",
    "auth/token/lookup",
    "auth/token/create",
    "sys/capabilities-self",
    "sys/leases/renew",
    "sys/leases/lookup",
    "sys/leases/revoke",
    "cubbyhole/my/secret",
    "cubbyhole/",
    "sys/wrapping/wrap",
    "sys/wrapping/lookup",
    "sys/wrapping/unwrap",
    "sys/wrapping/rewrap",
    "sys/tools/hash/sha2-256",
    "sys/internal/ui/resultant-acl",
    "sys/control-group/request",
    "identity/entity/id/e-123",
    "identity/entity/id/someone-else",
    "identity/entity/name/alice",
    "identity/oidc/provider/p/authorize",
    "secret/data/x",
    "sys/policy/default",
    "sys/mounts",
];

#[test]
fn default_policy_for_a_token_with_an_entity() {
    let default = Policy::parse("default", DEFAULT_POLICY).unwrap();
    assert!(default.is_templated());
    let rendered = default.render(&|expr| match expr {
        "identity.entity.id" => Some("e-123".to_owned()),
        "identity.entity.name" => Some("alice".to_owned()),
        _ => None,
    });
    assert!(!rendered.is_templated());
    assert_eq!(rendered.name(), "default");
    assert_eq!(rendered.raw(), DEFAULT_POLICY);
    expect![[r#"
        auth/token/lookup-self => ["read"]
        auth/token/renew-self => ["update"]
        auth/token/revoke-self => ["update"]
        auth/token/lookup => ["deny"]
        auth/token/create => ["deny"]
        sys/capabilities-self => ["update"]
        sys/leases/renew => ["update"]
        sys/leases/lookup => ["update"]
        sys/leases/revoke => ["deny"]
        cubbyhole/my/secret => ["create", "delete", "list", "read", "update"]
        cubbyhole/ => ["create", "delete", "list", "read", "update"]
        sys/wrapping/wrap => ["update"]
        sys/wrapping/lookup => ["update"]
        sys/wrapping/unwrap => ["update"]
        sys/wrapping/rewrap => ["deny"]
        sys/tools/hash/sha2-256 => ["update"]
        sys/internal/ui/resultant-acl => ["read"]
        sys/control-group/request => ["update"]
        identity/entity/id/e-123 => ["read"]
        identity/entity/id/someone-else => ["deny"]
        identity/entity/name/alice => ["read"]
        identity/oidc/provider/p/authorize => ["read", "update"]
        secret/data/x => ["deny"]
        sys/policy/default => ["deny"]
        sys/mounts => ["deny"]
    "#]]
    .assert_eq(&capability_table(&Acl::new(&[&rendered]), PATHS));
}

#[test]
fn default_policy_without_an_entity_drops_identity_rules() {
    let default = Policy::parse("default", DEFAULT_POLICY).unwrap();
    let acl = Acl::new(&[&default.render(&|_| None)]);
    assert!(!acl
        .capabilities("identity/entity/id/")
        .contains(Capability::Read));
    assert!(!acl
        .capabilities("identity/entity/id/{{identity.entity.id}}")
        .contains(Capability::Read));
    assert!(acl
        .capabilities("auth/token/lookup-self")
        .contains(Capability::Read));
    assert!(!acl.check("sys/audit", Capability::Sudo, &Map::new()).sudo);
}

#[test]
fn rendering_refuses_values_that_widen_the_pattern() {
    let policy = policy(
        r#"
path "secret/data/{{identity.entity.name}}/*" { capabilities = ["read"] }
path "secret/data/{{identity.entity.name}}"   { capabilities = ["update"] }
path "team/{{ identity.groups.names.ops.id }}" { capabilities = ["list"] }
path "static" { capabilities = ["read"] }
"#,
    );
    for name in ["*", "a*", "+", "a/b", "../x"] {
        let rendered = policy.render(&|expr| match expr {
            "identity.entity.name" => Some(name.to_owned()),
            _ => None,
        });
        let acl = Acl::new(&[&rendered]);
        let hit = |path: &str| acl.capabilities(path).names() != ["deny"];
        let widened =
            hit("secret/data/other/x") || hit("secret/data/a/b/c") || hit("secret/data/ax");
        // "../x" is a literal segment name: harmless, and rendered.
        assert!(!widened, "{name:?} widened the policy");
        assert!(hit("static"));
        assert!(!hit("team/"), "unfilled template must drop the rule");
    }
    let rendered = policy.render(&|expr| match expr {
        "identity.entity.name" => Some("alice".to_owned()),
        "identity.groups.names.ops.id" => Some("g-1".to_owned()),
        _ => None,
    });
    expect![[r#"
        secret/data/alice/x => ["read"]
        secret/data/alice => ["update"]
        secret/data/bob/x => ["deny"]
        team/g-1 => ["list"]
    "#]]
    .assert_eq(&capability_table(
        &Acl::new(&[&rendered]),
        &[
            "secret/data/alice/x",
            "secret/data/alice",
            "secret/data/bob/x",
            "team/g-1",
        ],
    ));
}
