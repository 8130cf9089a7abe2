//! Policy parser (HCL and JSON) and ACL evaluation: the first line of the input is a request
//! path, the rest the policy text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use secrethub_policy::{Acl, Capability, Policy};

const CAPS: [Capability; 10] = [
    Capability::Create,
    Capability::Read,
    Capability::Update,
    Capability::Patch,
    Capability::Delete,
    Capability::List,
    Capability::Scan,
    Capability::Sudo,
    Capability::Deny,
    Capability::Root,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (path, policy_text) = text.split_once('\n').unwrap_or(("secret/data/app", text));
    let Ok(policy) = Policy::parse("fuzz", policy_text) else {
        return;
    };
    let rendered = policy.render(&|name: &str| Some(format!("v-{name}")));
    let acl = Acl::new(&[
        &policy,
        &rendered,
        &Policy::parse("default", secrethub_policy::DEFAULT_POLICY).unwrap(),
    ]);
    let mut params = serde_json::Map::new();
    params.insert("ttl".into(), serde_json::json!("1h"));
    params.insert(path.to_owned(), serde_json::json!([path]));
    let _ = acl.capabilities(path);
    let _ = acl.grants_anything_under(path);
    for cap in CAPS {
        let _ = acl.check(path, cap, &params);
        let _ = acl.check_wrapped(
            path,
            cap,
            &params,
            Some(std::time::Duration::from_secs(300)),
        );
    }
});
