//! Path matching and Vault's priority rules: exact paths, `*` globs, `+` segments, and which
//! single rule decides when several match.

use expect_test::{expect, Expect};
use secrethub_policy::{Acl, Capability};
use serde_json::Map;

use crate::{capability_table, policy};

/// For each `(pattern_a, pattern_b, path)`, which pattern decides the path: `a` grants `read`,
/// `b` grants `list`, so the capabilities tell them apart.
fn check_winner(cases: &[(&str, &str, &str)], expected: Expect) {
    let mut out = String::new();
    for (a, b, path) in cases {
        let text = format!(
            "path {a:?} {{ capabilities = [\"read\"] }}\npath {b:?} {{ capabilities = [\"list\"] }}\n"
        );
        let names = Acl::new(&[&policy(&text)]).capabilities(path).names();
        let winner = match names
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["read"] => a,
            ["list"] => b,
            ["deny"] => "(none)",
            other => panic!("unexpected {other:?}"),
        };
        out.push_str(&format!("{path:<22} {a:<18} vs {b:<18} -> {winner}\n"));
    }
    expected.assert_eq(&out);
}

/// Which of `paths` the single pattern matches.
fn check_matches(pattern: &str, paths: &[&str], expected: Expect) {
    let text = format!("path {pattern:?} {{ capabilities = [\"read\"] }}");
    let acl = Acl::new(&[&policy(&text)]);
    let out: String = paths
        .iter()
        .map(|path| {
            let hit = acl.capabilities(path).contains(Capability::Read);
            format!("{:<6} {path:?}\n", if hit { "match" } else { "-" })
        })
        .collect();
    expected.assert_eq(&out);
}

#[test]
fn exact_patterns() {
    check_matches(
        "secret/foo",
        &[
            "secret/foo",
            "/secret/foo",
            "//secret/foo",
            "secret/food",
            "secret/foo/bar",
            "secret/fo",
            "secret",
            "",
        ],
        expect![[r#"
            match  "secret/foo"
            match  "/secret/foo"
            match  "//secret/foo"
            -      "secret/food"
            -      "secret/foo/bar"
            -      "secret/fo"
            -      "secret"
            -      ""
        "#]],
    );
}

#[test]
fn glob_patterns() {
    check_matches(
        "secret/bar/*",
        &[
            "secret/bar/zip",
            "secret/bar/zip/zap",
            "secret/bar/",
            "secret/bar",
            "secret/bars/zip",
        ],
        expect![[r#"
            match  "secret/bar/zip"
            match  "secret/bar/zip/zap"
            match  "secret/bar/"
            -      "secret/bar"
            -      "secret/bars/zip"
        "#]],
    );
    check_matches(
        "secret/zip-*",
        &[
            "secret/zip-zap",
            "secret/zip-zap/zong",
            "secret/zip-",
            "secret/zip/zap",
        ],
        expect![[r#"
            match  "secret/zip-zap"
            match  "secret/zip-zap/zong"
            match  "secret/zip-"
            -      "secret/zip/zap"
        "#]],
    );
    check_matches(
        "*",
        &["", "a", "sys/raw/x"],
        expect![[r#"
            match  ""
            match  "a"
            match  "sys/raw/x"
        "#]],
    );
    // A `*` that is not the last character is a literal.
    check_matches(
        "secret/*/x",
        &["secret/*/x", "secret/a/x", "secret/*/x/y"],
        expect![[r#"
            match  "secret/*/x"
            -      "secret/a/x"
            -      "secret/*/x/y"
        "#]],
    );
    // Only one trailing `*` is a glob; a second one is part of the prefix.
    check_matches(
        "secret/**",
        &["secret/*", "secret/*x", "secret/x"],
        expect![[r#"
            match  "secret/*"
            match  "secret/*x"
            -      "secret/x"
        "#]],
    );
}

#[test]
fn segment_wildcards() {
    check_matches(
        "secret/+/teamb",
        &[
            "secret/foo/teamb",
            "secret/bar/teamb",
            "secret//teamb",
            "secret/teamb",
            "secret/a/b/teamb",
            "secret/a/teamb/x",
            "secret/a/teambx",
        ],
        expect![[r#"
            match  "secret/foo/teamb"
            match  "secret/bar/teamb"
            match  "secret//teamb"
            -      "secret/teamb"
            -      "secret/a/b/teamb"
            -      "secret/a/teamb/x"
            -      "secret/a/teambx"
        "#]],
    );
    check_matches(
        "secret/+/+/teamb",
        &[
            "secret/foo/bar/teamb",
            "secret/foo/teamb",
            "secret/a/b/c/teamb",
        ],
        expect![[r#"
            match  "secret/foo/bar/teamb"
            -      "secret/foo/teamb"
            -      "secret/a/b/c/teamb"
        "#]],
    );
    check_matches(
        "secret/+/config/*",
        &[
            "secret/app/config/db",
            "secret/app/config/db/x",
            "secret/app/config/",
            "secret/app/config",
            "secret/app/configs/x",
            "secret/a/b/config/x",
        ],
        expect![[r#"
            match  "secret/app/config/db"
            match  "secret/app/config/db/x"
            match  "secret/app/config/"
            -      "secret/app/config"
            -      "secret/app/configs/x"
            -      "secret/a/b/config/x"
        "#]],
    );
    check_matches(
        "secret/+/conf*",
        &[
            "secret/a/conf",
            "secret/a/config",
            "secret/a/config/x",
            "secret/a/con",
        ],
        expect![[r#"
            match  "secret/a/conf"
            match  "secret/a/config"
            match  "secret/a/config/x"
            -      "secret/a/con"
        "#]],
    );
    check_matches(
        "+",
        &["secret", "", "secret/x"],
        expect![[r#"
            match  "secret"
            match  ""
            -      "secret/x"
        "#]],
    );
    check_matches(
        "+/data/+",
        &["kv/data/x", "kv/data/x/y", "kv/meta/x"],
        expect![[r#"
            match  "kv/data/x"
            -      "kv/data/x/y"
            -      "kv/meta/x"
        "#]],
    );
    // `+` is a wildcard only as a whole segment.
    check_matches(
        "secret/a+b",
        &["secret/a+b", "secret/axb"],
        expect![[r#"
            match  "secret/a+b"
            -      "secret/axb"
        "#]],
    );
}

#[test]
fn vault_priority_rules() {
    check_winner(
        &[
            // An exact match beats every glob.
            ("secret/foo", "secret/*", "secret/foo"),
            ("secret/a/x", "secret/+/x", "secret/a/x"),
            ("secret/a/x", "secret/a/x*", "secret/a/x"),
            // Plain globs: the longest prefix wins.
            ("secret/*", "secret/data/*", "secret/data/x"),
            ("secret/zip-*", "secret/*", "secret/zip-zap"),
            ("secret/data*", "secret/data/*", "secret/data/x"),
            ("secret/data*", "secret/data/*", "secret/datax"),
            // 1. The first wildcard later wins.
            ("foo/a*", "foo/+", "foo/ab"),
            ("foo/bar/+/baz", "foo/+/bar/baz", "foo/bar/bar/baz"),
            ("secret/*", "secret/a/+", "secret/a/b"),
            ("secret/a/b*", "secret/+/b", "secret/a/b"),
            // 2. Not ending in `*` beats ending in `*`.
            ("foo/+/bar", "foo/+/ba*", "foo/x/bar"),
            ("foo/+", "foo/*", "foo/x"),
            // 3. Fewer `+` segments win (the example of Vault's docs).
            ("secret/*", "secret/+/+/foo/*", "secret/a/b/foo/c"),
            ("a/+/c/d", "a/+/+/d", "a/b/c/d"),
            // 4. The longer pattern wins.
            ("foo/+/bar/ba*", "foo/+/bar/b*", "foo/x/bar/baz"),
            // 5. The lexicographically larger pattern wins.
            ("foo/+/bar/+", "foo/+/+/baz", "foo/x/bar/baz"),
            // Nothing matches.
            ("secret/a", "secret/b/*", "secret/c"),
        ],
        expect![[r#"
            secret/foo             secret/foo         vs secret/*           -> secret/foo
            secret/a/x             secret/a/x         vs secret/+/x         -> secret/a/x
            secret/a/x             secret/a/x         vs secret/a/x*        -> secret/a/x
            secret/data/x          secret/*           vs secret/data/*      -> secret/data/*
            secret/zip-zap         secret/zip-*       vs secret/*           -> secret/zip-*
            secret/data/x          secret/data*       vs secret/data/*      -> secret/data/*
            secret/datax           secret/data*       vs secret/data/*      -> secret/data*
            foo/ab                 foo/a*             vs foo/+              -> foo/a*
            foo/bar/bar/baz        foo/bar/+/baz      vs foo/+/bar/baz      -> foo/bar/+/baz
            secret/a/b             secret/*           vs secret/a/+         -> secret/a/+
            secret/a/b             secret/a/b*        vs secret/+/b         -> secret/a/b*
            foo/x/bar              foo/+/bar          vs foo/+/ba*          -> foo/+/bar
            foo/x                  foo/+              vs foo/*              -> foo/+
            secret/a/b/foo/c       secret/*           vs secret/+/+/foo/*   -> secret/*
            a/b/c/d                a/+/c/d            vs a/+/+/d            -> a/+/c/d
            foo/x/bar/baz          foo/+/bar/ba*      vs foo/+/bar/b*       -> foo/+/bar/ba*
            foo/x/bar/baz          foo/+/bar/+        vs foo/+/+/baz        -> foo/+/bar/+
            secret/c               secret/a           vs secret/b/*         -> (none)
        "#]],
    );
}

#[test]
fn the_most_specific_rule_alone_decides() {
    let acl = Acl::new(&[&policy(
        r#"
path "secret/*"            { capabilities = ["create", "read", "update", "delete", "list"] }
path "secret/super-secret" { capabilities = ["deny"] }
path "secret/quiet"        { capabilities = [] }
path "secret/locked/*"     { capabilities = ["deny"] }
path "secret/locked/open"  { capabilities = ["read"] }
path "secret/+/teamb"      { capabilities = ["read"] }
"#,
    )]);
    expect![[r#"
        secret/a => ["create", "delete", "list", "read", "update"]
        secret/super-secret => ["deny"]
        secret/super-secret/x => ["create", "delete", "list", "read", "update"]
        secret/quiet => ["deny"]
        secret/locked/x => ["deny"]
        secret/locked/open => ["read"]
        secret/x/teamb => ["read"]
        other/x => ["deny"]
    "#]]
    .assert_eq(&capability_table(
        &acl,
        &[
            "secret/a",
            "secret/super-secret",
            "secret/super-secret/x",
            "secret/quiet",
            "secret/locked/x",
            "secret/locked/open",
            "secret/x/teamb",
            "other/x",
        ],
    ));
    let params = Map::new();
    let decision = acl.check("secret/super-secret", Capability::Read, &params);
    assert!(!decision.allowed);
    assert_eq!(
        decision.reason.as_deref(),
        Some(r#"rule "secret/super-secret" denies the path"#)
    );
    // The wildcard rule grants create, but the deciding `+` rule does not.
    let decision = acl.check("secret/x/teamb", Capability::Create, &params);
    assert!(!decision.allowed);
    assert_eq!(
        decision.reason.as_deref(),
        Some(r#"rule "secret/+/teamb" does not grant "create""#)
    );
    let decision = acl.check("other/x", Capability::Read, &params);
    assert_eq!(
        decision.reason.as_deref(),
        Some("no policy rule matches the path")
    );
}

#[test]
fn list_requests_also_use_the_rule_without_the_trailing_slash() {
    let acl = Acl::new(&[&policy(
        r#"
path "secret/metadata"   { capabilities = ["list"] }
path "kv/+"              { capabilities = ["list"] }
path "app/*"             { capabilities = ["read"] }
path "app/+"             { capabilities = ["list"] }
"#,
    )]);
    let params = Map::new();
    let cases = [
        ("secret/metadata/", Capability::List),
        ("secret/metadata/", Capability::Read),
        ("secret/metadata/", Capability::Scan),
        ("kv/team/", Capability::List),
        ("kv/team/", Capability::Read),
        // The path itself matches `app/*` first, which does not grant list.
        ("app/x/", Capability::List),
        ("app/x", Capability::List),
    ];
    let out: String = cases
        .iter()
        .map(|(path, cap)| {
            let d = acl.check(path, *cap, &params);
            format!("{cap} {path:?} => {} {:?}\n", d.allowed, d.reason)
        })
        .collect();
    expect![[r#"
        list "secret/metadata/" => true None
        read "secret/metadata/" => false Some("no policy rule matches the path")
        scan "secret/metadata/" => false Some("rule \"secret/metadata\" does not grant \"scan\"")
        list "kv/team/" => true None
        read "kv/team/" => false Some("no policy rule matches the path")
        list "app/x/" => false Some("rule \"app/*\" does not grant \"list\"")
        list "app/x" => true None
    "#]]
    .assert_eq(&out);
    expect![[r#"
        secret/metadata/ => ["list"]
        kv/team/ => ["list"]
    "#]]
    .assert_eq(&capability_table(&acl, &["secret/metadata/", "kv/team/"]));
}

#[test]
fn sudo_is_reported_with_the_decision() {
    let acl = Acl::new(&[&policy(
        r#"
path "sys/audit/*"  { capabilities = ["create", "update", "sudo"] }
path "sys/mounts/*" { capabilities = ["update"] }
path "sys/raw/*"    { capabilities = ["sudo"] }
"#,
    )]);
    let params = Map::new();
    let audit = acl.check("sys/audit/file", Capability::Update, &params);
    assert_eq!(
        (audit.allowed, audit.sudo, audit.reason),
        (true, true, None)
    );
    let mounts = acl.check("sys/mounts/kv", Capability::Update, &params);
    assert_eq!((mounts.allowed, mounts.sudo), (true, false));
    // Sudo alone grants no operation.
    let raw = acl.check("sys/raw/x", Capability::Read, &params);
    assert_eq!((raw.allowed, raw.sudo), (false, true));
    assert!(acl.check("sys/raw/x", Capability::Sudo, &params).allowed);
    assert!(
        !acl.check("sys/audit/file", Capability::Deny, &params)
            .allowed
    );
}

#[test]
fn root_allows_everything() {
    let acl = Acl::root();
    assert!(acl.is_root());
    assert_eq!(acl.capabilities("any/path").names(), ["root"]);
    assert!(acl.capabilities("sys/raw").contains(Capability::Sudo));
    assert!(!acl.capabilities("sys/raw").contains(Capability::Deny));
    let mut params = Map::new();
    params.insert("anything".into(), serde_json::json!(["goes"]));
    for cap in [
        Capability::Read,
        Capability::Create,
        Capability::Sudo,
        Capability::Scan,
    ] {
        let decision = acl.check("sys/audit/x", cap, &params);
        assert_eq!(
            (decision.allowed, decision.sudo, decision.reason),
            (true, true, None)
        );
    }
    assert!(!Acl::new(&[]).is_root());
}

#[test]
fn no_policies_deny_everything() {
    let acl = Acl::new(&[]);
    assert_eq!(acl.capabilities("secret/x").names(), ["deny"]);
    assert!(!acl.check("secret/x", Capability::Read, &Map::new()).allowed);
}
