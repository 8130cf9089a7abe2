//! The `lease_revocation` stanza: defaults, partial stanzas, Vault's loose spellings, and the
//! message for each mistake.

use std::path::Path;
use std::time::Duration;

use expect_test::expect;
use secrethub_config::{parse, LeaseRevocationConfig};

use crate::check_err;

const LISTENER: &str = "listener \"tcp\" {\n  tls_disable = true\n}\n";

fn revocation_of(stanza: &str) -> LeaseRevocationConfig {
    let text = format!("{LISTENER}{stanza}\n");
    parse(&text, Path::new("/"))
        .unwrap_or_else(|e| panic!("{stanza}: {e}"))
        .lease_revocation
}

#[test]
fn defaults_apply_without_the_stanza_and_for_keys_left_out() {
    let defaults = LeaseRevocationConfig::default();
    assert_eq!(
        defaults,
        LeaseRevocationConfig {
            workers: 32,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            max_attempts: 8,
            irrevocable_retry: Duration::from_secs(3600),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    );
    assert_eq!(revocation_of(""), defaults);
    assert_eq!(revocation_of("lease_revocation {}"), defaults);
    assert_eq!(
        revocation_of("lease_revocation { max_attempts = 12 }").max_attempts,
        12
    );
    assert_eq!(
        revocation_of("lease_revocation {\n  max_attempts = 3\n  breaker_cooldown = 5\n}"),
        LeaseRevocationConfig {
            max_attempts: 3,
            breaker_cooldown: Duration::from_secs(5),
            ..defaults
        }
    );
}

#[test]
fn sub_second_delays_and_the_limits_are_accepted() {
    let config = revocation_of(
        "lease_revocation {\n  base_delay = \"250ms\"\n  max_delay = 0.5\n  workers = 1024\n  irrevocable_retry = \"8760h\"\n  breaker_threshold = 1\n}",
    );
    assert_eq!(config.base_delay, Duration::from_millis(250));
    assert_eq!(config.max_delay, Duration::from_millis(500));
    assert_eq!(config.workers, 1024);
    assert_eq!(config.irrevocable_retry, Duration::from_secs(365 * 86400));
    assert_eq!(config.breaker_threshold, 1);
    // base_delay may equal max_delay: every retry then waits the same.
    let config = revocation_of("lease_revocation {\n  base_delay = \"5m\"\n}");
    assert_eq!(config.base_delay, config.max_delay);
}

#[test]
fn an_object_attribute_reads_like_the_stanza() {
    let config = revocation_of("lease_revocation = { workers = 4, max_delay = \"1m\" }");
    assert_eq!(
        (config.workers, config.max_delay),
        (4, Duration::from_secs(60))
    );
}

#[test]
fn unknown_keys_and_labels() {
    check_err(
        &format!("{LISTENER}lease_revocation {{\n  workers = 4\n  max_retries = 3\n}}\n"),
        expect![[r#"server.hcl:6: lease_revocation: unknown key "max_retries""#]],
    );
    check_err(
        &format!("{LISTENER}lease_revocation \"fast\" {{\n  workers = 4\n}}\n"),
        expect!["server.hcl:4: lease_revocation takes no label, as in lease_revocation { ... }; found 1"],
    );
    check_err(
        &format!("{LISTENER}lease_revocation = 5\n"),
        expect![[r#"server.hcl:4: "lease_revocation" must be a stanza, found a number"#]],
    );
}

#[test]
fn two_stanzas() {
    check_err(
        &format!("lease_revocation {{\n  workers = 4\n}}\n{LISTENER}lease_revocation {{}}\n"),
        expect![
            "server.hcl:7: only one lease_revocation stanza is allowed; the first is on line 1"
        ],
    );
}

#[test]
fn bad_counts() {
    for (line, want) in [
        (
            "workers = 0",
            expect![[
                r#"server.hcl:5: lease_revocation: "workers": must be an integer from 1 to 1024"#
            ]],
        ),
        (
            "workers = 2000",
            expect![[
                r#"server.hcl:5: lease_revocation: "workers": must be an integer from 1 to 1024"#
            ]],
        ),
        (
            "workers = \"many\"",
            expect![[
                r#"server.hcl:5: lease_revocation: "workers": must be an integer from 1 to 1024"#
            ]],
        ),
        (
            "max_attempts = 0",
            expect![[
                r#"server.hcl:5: lease_revocation: "max_attempts": must be a positive integer"#
            ]],
        ),
        (
            "max_attempts = 2.5",
            expect![[
                r#"server.hcl:5: lease_revocation: "max_attempts": must be a positive integer"#
            ]],
        ),
        (
            "breaker_threshold = \"0\"",
            expect![[
                r#"server.hcl:5: lease_revocation: "breaker_threshold": must be a positive integer"#
            ]],
        ),
        (
            "breaker_threshold = -1",
            expect![[
                r#"server.hcl:5: lease_revocation: "breaker_threshold": must be a positive integer"#
            ]],
        ),
        (
            "max_attempts = true",
            expect![[
                r#"server.hcl:5: lease_revocation: "max_attempts": must be a positive integer"#
            ]],
        ),
    ] {
        check_err(
            &format!("{LISTENER}lease_revocation {{\n  {line}\n}}\n"),
            want,
        );
    }
}

#[test]
fn bad_delays() {
    for (line, want) in [
        (
            "base_delay = \"soon\"",
            expect![[r#"server.hcl:5: lease_revocation: "base_delay": invalid duration "soon""#]],
        ),
        (
            "base_delay = 0",
            expect![[r#"server.hcl:5: lease_revocation: "base_delay": must be greater than zero"#]],
        ),
        (
            "irrevocable_retry = \"0s\"",
            expect![[
                r#"server.hcl:5: lease_revocation: "irrevocable_retry": must be greater than zero"#
            ]],
        ),
        (
            "breaker_cooldown = \"\"",
            expect![[
                r#"server.hcl:5: lease_revocation: "breaker_cooldown": must be greater than zero"#
            ]],
        ),
        (
            "max_delay = \"366d\"",
            expect![[r#"server.hcl:5: lease_revocation: "max_delay": must be at most 8760h0m0s"#]],
        ),
        (
            "irrevocable_retry = 1e30",
            expect![[
                r#"server.hcl:5: lease_revocation: "irrevocable_retry": duration is too large"#
            ]],
        ),
        (
            "max_delay = [\"5m\"]",
            expect![[
                r#"server.hcl:5: lease_revocation: "max_delay": expected a duration such as "1h" or a number of seconds"#
            ]],
        ),
    ] {
        check_err(
            &format!("{LISTENER}lease_revocation {{\n  {line}\n}}\n"),
            want,
        );
    }
}

#[test]
fn base_delay_above_max_delay() {
    check_err(
        &format!("{LISTENER}lease_revocation {{\n  workers = 4\n  base_delay = \"10m\"\n}}\n"),
        expect![
            "server.hcl:6: lease_revocation: base_delay (10m0s) must not exceed max_delay (5m0s)"
        ],
    );
    check_err(
        &format!("{LISTENER}lease_revocation {{\n  max_delay = \"500ms\"\n}}\n"),
        expect![
            "server.hcl:5: lease_revocation: base_delay (1s) must not exceed max_delay (500ms)"
        ],
    );
    check_err(
        &format!("{LISTENER}lease_revocation {{\n  max_delay = \"1m\"\n  base_delay = 61\n}}\n"),
        expect![
            "server.hcl:6: lease_revocation: base_delay (1m1s) must not exceed max_delay (1m0s)"
        ],
    );
}

#[test]
fn huge_lease_ttls_are_refused_not_a_panic() {
    check_err(
        &format!("{LISTENER}max_lease_ttl = 1e30\n"),
        expect![[r#"server.hcl:4: "max_lease_ttl": duration is too large"#]],
    );
}
