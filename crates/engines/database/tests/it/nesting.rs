//! A `password_policy` nested deep enough to overflow the HCL parser's stack is refused with a
//! 400 before it is parsed (the hardening issue's nine shapes, at depth 400 and one past the
//! limit), and the engine keeps serving; one at the limit is parsed.

use secrethub_common::ErrorKind;
use secrethub_engine::Operation;
use serde_json::json;

use secrethub_testkit::nesting::{expression, SHAPES};

use crate::harness::Mount;

/// One of the nine shapes, `n` levels deep, as an attribute of a password policy.
fn nested(shape: &str, n: usize) -> String {
    let expr = expression(shape, n);
    format!("length = 20\nx = {expr}\nrule \"charset\" {{ charset = \"ab\" }}\n")
}

async fn write_config(mount: &Mount, policy: &str) -> Result<(), String> {
    let body = json!({
        "plugin_name": "postgresql-database-plugin",
        "connection_url": "postgresql://h/d",
        "verify_connection": false,
        "password_policy": policy,
    });
    match mount.call(Operation::Create, "config/x", body).await {
        Ok(_) => Ok(()),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::BadRequest, "{e}");
            Err(e.to_string())
        }
    }
}

#[tokio::test]
async fn deep_password_policies_are_refused_before_parsing() {
    let mount = Mount::new();
    for shape in SHAPES {
        for depth in [400, 33] {
            let msg = write_config(&mount, &nested(shape, depth))
                .await
                .unwrap_err();
            assert_eq!(
                msg, "invalid password_policy: password_policy is nested too deeply (limit 32)",
                "{shape} at {depth}"
            );
        }
        // At the limit the policy is parsed: the parser itself names the attribute.
        let msg = write_config(&mount, &nested(shape, 32)).await.unwrap_err();
        assert_eq!(
            msg, "invalid password_policy: unsupported attribute \"x\"",
            "{shape} at 32"
        );
    }
    let msg = write_config(&mount, &format!("# {}", "x".repeat(128 * 1024)))
        .await
        .unwrap_err();
    assert_eq!(
        msg,
        "invalid password_policy: password_policy is too large (131074 bytes, limit 131072)"
    );

    // The engine still serves.
    let policy = "length = 20\nrule \"charset\" {\n charset = \"ab\"\n}\n";
    write_config(&mount, policy).await.unwrap();
    let data = mount.read("config/x").await;
    assert_eq!(data["password_policy"], json!(policy));
}
