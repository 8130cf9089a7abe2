//! Token calls (create, lookup, renew, revoke in every form) and AppRole and userpass logins,
//! through vaultrs.

use std::collections::HashMap;

use vaultrs::api::auth::approle::requests::SetAppRoleRequestBuilder;
use vaultrs::api::auth::userpass::requests::CreateUserRequestBuilder;
use vaultrs::api::token::requests::{CreateOrphanTokenRequestBuilder, CreateTokenRequestBuilder};
use vaultrs::{auth, sys, token};

use super::{api_code, client, dev_server};
use crate::harness::unique_name;

#[tokio::test]
async fn vaultrs_token_create_lookup_renew_and_revoke() {
    let root = "vaultrs-token-root";
    let (_dir, server) = dev_server(root).await;
    let vault = client(&server, root);

    let mut request = CreateTokenRequestBuilder::default();
    request
        .policies(vec!["default".to_string()])
        .ttl("1h")
        .renewable(true)
        .display_name("vaultrs")
        .meta(HashMap::from([("team".to_string(), "a".to_string())]));
    let child = token::new(&vault, Some(&mut request))
        .await
        .expect("create a token");
    assert_eq!(child.policies, ["default"]);
    assert_eq!((child.lease_duration, child.renewable), (3600, true));
    assert_eq!(
        (child.token_type.as_str(), child.orphan),
        ("service", false)
    );

    let looked = token::lookup(&vault, &child.client_token)
        .await
        .expect("lookup");
    assert_eq!(looked.id, child.client_token);
    assert_eq!(looked.accessor, child.accessor);
    assert_eq!(looked.display_name, "token-vaultrs");
    assert_eq!(looked.path, "auth/token/create");
    assert_eq!(looked.policies, ["default"]);
    assert_eq!(
        looked.meta,
        Some(HashMap::from([("team".to_string(), "a".to_string())]))
    );
    assert!((3500..=3600).contains(&looked.ttl), "{looked:?}");
    assert!(looked.renewable && !looked.orphan);

    let as_child = client(&server, &child.client_token);
    let own = token::lookup_self(&as_child).await.expect("lookup-self");
    assert_eq!(own.accessor, child.accessor);
    let by_accessor = token::lookup_accessor(&vault, &child.accessor)
        .await
        .expect("lookup-accessor");
    assert_eq!(by_accessor.accessor, child.accessor);
    assert_eq!(by_accessor.id, "", "lookup-accessor never shows the token");
    let root_self = token::lookup_self(&vault).await.expect("root lookup-self");
    assert_eq!(root_self.policies, ["root"]);

    let renewed = token::renew(&vault, &child.client_token, Some("2h"))
        .await
        .expect("renew");
    assert_eq!(renewed.lease_duration, 7200);
    let renewed = token::renew_self(&as_child, Some("30m"))
        .await
        .expect("renew-self");
    assert_eq!(renewed.lease_duration, 1800);

    let orphan = token::new_orphan(
        &vault,
        Some(CreateOrphanTokenRequestBuilder::default().ttl("10m")),
    )
    .await
    .expect("create an orphan");
    assert!(orphan.orphan);

    // Revocation by accessor, by token and by itself; a revoked token looks up as 403.
    token::revoke_accessor(&vault, &child.accessor)
        .await
        .expect("revoke-accessor");
    assert_eq!(
        api_code(token::lookup(&vault, &child.client_token).await),
        403
    );
    assert_eq!(api_code(token::lookup_self(&as_child).await), 403);

    token::revoke(&vault, &orphan.client_token)
        .await
        .expect("revoke");
    assert_eq!(
        api_code(token::lookup(&vault, &orphan.client_token).await),
        403
    );

    let last = token::new(&vault, None).await.expect("create a token");
    let as_last = client(&server, &last.client_token);
    token::revoke_self(&as_last).await.expect("revoke-self");
    assert_eq!(api_code(token::lookup_self(&as_last).await), 403);
    assert_eq!(
        api_code(token::lookup(&vault, &last.client_token).await),
        403
    );

    // A token that never existed looks up as 403 too.
    assert_eq!(
        api_code(token::lookup(&vault, "hvs.no-such-token").await),
        403
    );
}

#[tokio::test]
async fn vaultrs_approle_and_userpass_logins() {
    let root = "vaultrs-login-root";
    let (_dir, server) = dev_server(root).await;
    let vault = client(&server, root);
    let anonymous = client(&server, "");

    let approle = unique_name("approle");
    sys::auth::enable(&vault, &approle, "approle", None)
        .await
        .expect("enable approle");
    let mut role = SetAppRoleRequestBuilder::default();
    role.token_policies(vec!["default".to_string()])
        .token_ttl("20m")
        .token_max_ttl("1h");
    auth::approle::role::set(&vault, &approle, "ci", Some(&mut role))
        .await
        .expect("create the role");
    let role_id = auth::approle::role::read_id(&vault, &approle, "ci")
        .await
        .expect("read the role id")
        .role_id;
    let secret = auth::approle::role::secret::generate(&vault, &approle, "ci", None)
        .await
        .expect("generate a secret id");
    assert!(!secret.secret_id_accessor.is_empty());

    let login = auth::approle::login(&anonymous, &approle, &role_id, &secret.secret_id)
        .await
        .expect("approle login");
    assert!(login.policies.contains(&"default".to_string()), "{login:?}");
    assert_eq!((login.lease_duration, login.renewable), (1200, true));
    assert_eq!(
        login.metadata.as_ref().and_then(|m| m.get("role_name")),
        Some(&"ci".to_string())
    );
    let as_app = client(&server, &login.client_token);
    let own = token::lookup_self(&as_app).await.expect("lookup-self");
    assert_eq!(own.path, format!("auth/{approle}/login"));
    let wrong = auth::approle::login(&anonymous, &approle, &role_id, "not-the-secret-id").await;
    assert_eq!(api_code(wrong), 400);

    let userpass = unique_name("userpass");
    sys::auth::enable(&vault, &userpass, "userpass", None)
        .await
        .expect("enable userpass");
    let mut user = CreateUserRequestBuilder::default();
    user.token_policies(vec!["default".to_string()])
        .token_ttl("10m");
    auth::userpass::user::set(&vault, &userpass, "alice", "correct horse", Some(&mut user))
        .await
        .expect("create the user");
    let login = auth::userpass::login(&anonymous, &userpass, "alice", "correct horse")
        .await
        .expect("userpass login");
    assert_eq!(login.lease_duration, 600);
    assert_eq!(
        login.metadata.as_ref().and_then(|m| m.get("username")),
        Some(&"alice".to_string())
    );
    let wrong = auth::userpass::login(&anonymous, &userpass, "alice", "wrong").await;
    assert_eq!(api_code(wrong), 400);

    let methods = sys::auth::list(&vault).await.expect("list auth methods");
    assert_eq!(methods[&format!("{approle}/")].mount_type, "approle");
    assert_eq!(methods[&format!("{userpass}/")].mount_type, "userpass");
    assert_eq!(methods["token/"].mount_type, "token");
}
