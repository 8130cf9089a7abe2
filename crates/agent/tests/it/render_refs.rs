//! `render` and `render_env` against a counting in-memory source: one fetch per distinct
//! secret, defaults only on NotFound, field rules, and all-or-nothing with lease cleanup.

use secrethub_agent::render::{render, render_env, RenderError};
use secrethub_providers::ProviderErrorKind;

use crate::fake_source::{leased, secret, FakeSource};

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn each_distinct_secret_is_fetched_once_and_shared() {
    let source = FakeSource::new()
        .with(
            "database/creds/ro",
            leased(
                &[("username", "v-ro-user1"), ("password", "pa55-word-1")],
                "database/creds/ro/l1",
            ),
        )
        .with("secret/app", secret(&[("api_key", "key-123456")]));
    let text = "url=postgres://${secret:database/creds/ro#username}:${secret:database/creds/ro#password}@db\n\
                user again=${secret:database/creds/ro#username}\n\
                key=${secret:secret/app#api_key} ${secret:secret/app}\n\
                literal=$${secret:not/fetched}\n";
    let rendered = render(&source, text).await.unwrap();
    assert_eq!(
        rendered.text.expose(),
        "url=postgres://v-ro-user1:pa55-word-1@db\n\
         user again=v-ro-user1\n\
         key=key-123456 key-123456\n\
         literal=${secret:not/fetched}\n"
    );
    assert_eq!(
        source.fetches(),
        vec![
            (None, "database/creds/ro".to_string()),
            (None, "secret/app".to_string())
        ]
    );
    let [db, app] = rendered.used.as_slice() else {
        panic!("{:?}", rendered.used);
    };
    assert_eq!(
        (db.provider.as_str(), db.path.as_str()),
        ("secrethub", "database/creds/ro")
    );
    assert_eq!(db.lease.as_ref().unwrap().id, "database/creds/ro/l1");
    assert_eq!(db.version.as_deref(), Some("1"));
    let values = |u: &secrethub_agent::render::Used| {
        u.values
            .iter()
            .map(|v| v.expose().clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(values(db), ["v-ro-user1", "pa55-word-1"]);
    assert_eq!(values(app), ["key-123456"]);
    assert!(app.lease.is_none());
    assert!(source.revoked().is_empty());
    // Debug output of the whole result shows no value.
    let debug = format!("{rendered:?}");
    assert!(
        !debug.contains("pa55-word-1") && !debug.contains("key-123456"),
        "{debug}"
    );
}

#[tokio::test]
async fn a_provider_prefix_is_part_of_the_secret_identity() {
    let source = FakeSource::new().with("kv/x", secret(&[("value", "same-path")]));
    let rendered = render(
        &source,
        "${secret:kv/x} ${secret:vault:kv/x} ${secret:vault:kv/x}",
    )
    .await
    .unwrap();
    assert_eq!(rendered.text.expose(), "same-path same-path same-path");
    assert_eq!(
        source.fetches(),
        vec![
            (None, "kv/x".to_string()),
            (Some("vault".to_string()), "kv/x".to_string())
        ]
    );
    assert_eq!(rendered.used[1].provider, "vault");
}

#[tokio::test]
async fn defaults_apply_to_missing_secrets_and_fields_only() {
    let source = FakeSource::new().with("secret/app", secret(&[("a", "alpha-value")]));
    let rendered = render(
        &source,
        "${secret:secret/gone|fallback} ${secret:secret/app#b|} [${secret:secret/app#b|x y}] ${secret:secret/app#a|unused}",
    )
    .await
    .unwrap();
    assert_eq!(rendered.text.expose(), "fallback  [x y] alpha-value");

    for kind in [
        ProviderErrorKind::Denied,
        ProviderErrorKind::Unavailable,
        ProviderErrorKind::Invalid,
    ] {
        let source = FakeSource::new().failing("secret/app", kind);
        let err = render(&source, "x=${secret:secret/app#a|fallback}")
            .await
            .unwrap_err();
        let expected = format!(
            "${{secret:secret/app#a|…}}: secrethub: {}",
            format!("{kind:?} at secret/app").to_lowercase()
        );
        assert_eq!(err.to_string(), expected);
        // The default may be a real fallback password: errors never show it.
        assert!(!err.to_string().contains("fallback"), "{err}");
    }
}

#[tokio::test]
async fn a_missing_secret_without_default_names_the_reference() {
    let source = FakeSource::new();
    let err = render(&source, "${secret:secret/gone#k}")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "${secret:secret/gone#k}: secrethub: no secret at secret/gone"
    );
    assert_eq!(err.kind(), secrethub_common::ErrorKind::NotFound);
}

#[tokio::test]
async fn a_missing_field_names_the_reference_and_path() {
    let source = FakeSource::new().with("secret/app", secret(&[("a", "alpha-value")]));
    let err = render(&source, "${secret:secret/app#missing}")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"${secret:secret/app#missing}: no field "missing" in secret/app"#
    );
}

#[tokio::test]
async fn field_less_references_take_the_only_field_or_value() {
    let source = FakeSource::new()
        .with("one", secret(&[("token", "only-field-v")]))
        .with(
            "with-value",
            secret(&[("other", "other-v"), ("value", "the-value-v")]),
        )
        .with("several", secret(&[("user", "user-v"), ("pass", "pass-v")]))
        .with("empty", secret(&[]));
    let rendered = render(
        &source,
        "${secret:one} ${secret:with-value} ${secret:empty|none}",
    )
    .await
    .unwrap();
    assert_eq!(rendered.text.expose(), "only-field-v the-value-v none");

    let err = render(&source, "${secret:several}").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "${secret:several}: the reference names no field and several has several (pass, user); add #FIELD"
    );
    // Ambiguity is a mistake in the reference, not a missing secret: no default hides it.
    let err = render(&source, "${secret:several|d}").await.unwrap_err();
    assert!(matches!(err, RenderError::AmbiguousField { .. }), "{err}");

    let err = render(&source, "${secret:empty}").await.unwrap_err();
    assert_eq!(err.to_string(), "${secret:empty}: empty has no fields");
}

#[tokio::test]
async fn a_failed_render_returns_only_the_error_and_revokes_its_leases() {
    let source = FakeSource::new()
        .with(
            "database/creds/rw",
            leased(
                &[("username", "v-rw-user9"), ("password", "rw-pass-999")],
                "database/creds/rw/l9",
            ),
        )
        .failing("secret/locked", ProviderErrorKind::Denied);
    let err = render(
        &source,
        "${secret:database/creds/rw#password}\n${secret:secret/locked#k}",
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "${secret:secret/locked#k}: secrethub: denied at secret/locked"
    );
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("rw-pass-999") && !shown.contains("v-rw-user9"),
        "{shown}"
    );
    assert_eq!(
        source.revoked(),
        vec![("secrethub".to_string(), "database/creds/rw/l9".to_string())]
    );
}

#[tokio::test]
async fn a_malformed_reference_fetches_nothing() {
    let source = FakeSource::new().with("secret/app", secret(&[("a", "alpha-value")]));
    let err = render(&source, "${secret:secret/app#a}\n  ${secret:}")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "2:3: malformed reference ${secret:…: empty path"
    );
    assert!(source.fetches().is_empty());
}

#[tokio::test]
async fn env_values_share_one_fetch_per_secret() {
    let source = FakeSource::new().with(
        "database/creds/ro",
        leased(
            &[("username", "v-env-user"), ("password", "env-pass-42")],
            "database/creds/ro/e1",
        ),
    );
    let (env, used) = render_env(
        &source,
        &vars(&[
            ("DB_USER", "${secret:database/creds/ro#username}"),
            ("DB_PASS", "${secret:database/creds/ro#password}"),
            ("PLAIN", "no references"),
        ]),
    )
    .await
    .unwrap();
    let env: Vec<(String, String)> = env
        .into_iter()
        .map(|(k, v)| (k, v.expose().clone()))
        .collect();
    assert_eq!(
        env,
        vars(&[
            ("DB_USER", "v-env-user"),
            ("DB_PASS", "env-pass-42"),
            ("PLAIN", "no references"),
        ])
    );
    assert_eq!(source.fetches().len(), 1);
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].values.len(), 2);
}

#[tokio::test]
async fn env_errors_name_the_variable_and_revoke() {
    let source = FakeSource::new().with(
        "database/creds/ro",
        leased(&[("username", "v-env-user2")], "database/creds/ro/e2"),
    );
    let err = render_env(
        &source,
        &vars(&[
            ("DB_USER", "${secret:database/creds/ro#username}"),
            ("API", "${secret:secret/nothing-here#k}"),
        ]),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "API: ${secret:secret/nothing-here#k}: secrethub: no secret at secret/nothing-here"
    );
    assert_eq!(source.revoked().len(), 1);

    let err = render_env(&source, &vars(&[("BAD", "x ${secret:a b}")]))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "BAD: 1:3: malformed reference ${secret:a…: whitespace in path"
    );
}
