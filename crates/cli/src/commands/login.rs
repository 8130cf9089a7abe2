//! `login`: authenticate with a method and store the token in the token helper file.
//!
//! `-method=token` looks the given token up; `userpass`, `approle`, `jwt`, `kubernetes` and
//! `aws` send their `key=value` arguments to `auth/<path>/login` (userpass: `login/<username>`;
//! a missing password is prompted for; kubernetes reads the pod's service account token when
//! no `jwt` is given, from `token_path` if set (Vault Agent's name for it; it only says where to
//! read and is not sent); aws signs an `sts:GetCallerIdentity` request with the credentials in
//! the environment). Each answers a secret with an `auth` block; storing and printing are
//! shared.

use secrethub_common::Sensitive;
use serde_json::{json, Value};

use crate::input::prompt_secret;
use crate::output::{self, Format};
use crate::settings::write_token_helper;
use crate::{CmdResult, Ctx, Failure};

#[derive(clap::Args)]
pub(crate) struct LoginArgs {
    /// Authentication method
    #[arg(long, default_value = "token")]
    method: String,
    /// Mount path of the auth method (defaults to the method name)
    #[arg(long)]
    path: Option<String>,
    /// Do not store the token in ~/.secrethub-token
    #[arg(long = "no-store")]
    no_store: bool,
    /// Print only the token (implies nothing else on stdout)
    #[arg(long = "token-only")]
    token_only: bool,
    /// Print only this field of the answer
    #[arg(long)]
    field: Option<String>,
    /// For -method=token: the token, or - to read it from stdin (prompted when omitted);
    /// for other methods: key=value pairs (userpass: username=… password=…; approle:
    /// role_id=… secret_id=…; jwt: role=… jwt=…; kubernetes: role=… [jwt=…|token_path=…]
    /// (the service account token file, by default
    /// /var/run/secrets/kubernetes.io/serviceaccount/token); aws: role=… [header_value=…]
    /// [region=…])
    args: Vec<String>,
}

pub(crate) async fn run(ctx: &Ctx, args: LoginArgs) -> CmdResult {
    let secret = login_with_method(ctx, &args).await?;
    let token = secret
        .get("auth")
        .and_then(|a| a.get("client_token"))
        .and_then(Value::as_str)
        .map(|t| Sensitive::new(t.to_string()))
        .ok_or_else(|| Failure::remote("Error authenticating: no token in the answer"))?;
    if !args.no_store && !args.token_only {
        let path = ctx
            .env
            .token_helper_path()
            .ok_or_else(|| Failure::local("Error storing token: HOME is not set"))?;
        write_token_helper(&path, &token).map_err(|e| {
            Failure::local(format!("Error storing token in {}: {e}", path.display()))
        })?;
    }
    if args.token_only {
        output::out_raw(token.expose());
        return Ok(0);
    }
    if let Some(field) = args.field.as_deref() {
        return output::print_field(ctx.format, output::secret_field(&secret, field), field);
    }
    if ctx.env.token().is_some() {
        output::err(
            "WARNING! The SECRETHUB_TOKEN or VAULT_TOKEN environment variable is set! Its value\n\
             takes precedence over the stored token; unset it if this is unwanted.\n",
        );
    }
    if ctx.format == Format::Table {
        let message = if args.no_store {
            "Success! You are now authenticated. The token information displayed below is not\n\
             stored: pass it as SECRETHUB_TOKEN to use it."
        } else {
            "Success! You are now authenticated. The token information displayed below\n\
             is already stored in the token helper. You do NOT need to run \"secrethub login\"\n\
             again. Future requests will automatically use this token.\n"
        };
        output::out(message);
    }
    output::print_secret(ctx.format, &secret);
    Ok(0)
}

/// Authenticates with the chosen method; answers a secret with an `auth` block.
async fn login_with_method(ctx: &Ctx, args: &LoginArgs) -> Result<Value, Failure> {
    match args.method.as_str() {
        "token" => token_login(ctx, args).await,
        "userpass" | "approle" | "jwt" | "oidc" | "kubernetes" | "aws" => {
            method_login(ctx, args).await
        }
        other => Err(Failure::local(format!(
            "Unknown auth method: {other}. Use token, userpass, approle, jwt, kubernetes or aws."
        ))),
    }
}

/// Where a pod finds its service account token; `token_path=` reads another file instead.
const K8S_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The login request of a method other than token: path and body.
pub(crate) fn login_request(
    method: &str,
    mount: &str,
    mut body: serde_json::Map<String, Value>,
) -> Result<(String, Value), Failure> {
    let base = format!("auth/{}", mount.trim_matches('/'));
    let take = |body: &mut serde_json::Map<String, Value>, key: &str| {
        body.remove(key)
            .and_then(|v| v.as_str().map(str::to_string))
            .filter(|v| !v.is_empty())
    };
    let path = match method {
        "userpass" => {
            let user = take(&mut body, "username")
                .ok_or_else(|| Failure::local("Missing username= for -method=userpass"))?;
            if !body.contains_key("password") {
                let pw = prompt_secret("Password (will be hidden):", &mut std::io::stdin().lock())
                    .map_err(Failure::local)?;
                body.insert("password".into(), json!(pw.expose()));
            }
            format!("{base}/login/{user}")
        }
        "kubernetes" => {
            // Where to read the token is the CLI's business, not a field of the login.
            let token_path = match body.remove("token_path") {
                None => None,
                Some(Value::String(p)) if !p.is_empty() => Some(p),
                Some(_) => return Err(Failure::local("token_path= must name a file")),
            };
            match (body.contains_key("jwt"), token_path) {
                (true, Some(_)) => {
                    return Err(Failure::local(
                        "Give either jwt= or token_path= for -method=kubernetes, not both",
                    ))
                }
                (true, None) => {}
                (false, token_path) => {
                    let file = token_path.as_deref().unwrap_or(K8S_TOKEN_FILE);
                    let jwt = std::fs::read_to_string(file).map_err(|e| {
                        Failure::local(format!(
                            "Missing jwt= and the service account token {file} cannot be read: {e}"
                        ))
                    })?;
                    body.insert("jwt".into(), json!(jwt.trim()));
                }
            }
            format!("{base}/login")
        }
        "aws" => {
            let role = take(&mut body, "role").unwrap_or_default();
            let server_id = take(&mut body, "header_value");
            let region = take(&mut body, "region").unwrap_or_else(|| "us-east-1".into());
            let sts_url =
                take(&mut body, "sts_url").unwrap_or_else(|| "https://sts.amazonaws.com/".into());
            let creds = aws_credentials_from_env()?;
            let signed = secrethub_auth_aws::signed_login_body(
                &creds,
                &region,
                &sts_url,
                server_id.as_deref(),
                &role,
                std::time::SystemTime::now(),
            )
            .map_err(|e| Failure::local(format!("Error signing the AWS login request: {e}")))?;
            body.extend(signed);
            format!("{base}/login")
        }
        _ => format!("{base}/login"),
    };
    Ok((path, Value::Object(body)))
}

fn aws_credentials_from_env() -> Result<secrethub_auth_aws::AwsCredentials, Failure> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(secrethub_auth_aws::AwsCredentials {
            access_key_id,
            secret_access_key,
            session_token: var("AWS_SESSION_TOKEN"),
        }),
        _ => Err(Failure::local(
            "-method=aws needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment",
        )),
    }
}

async fn method_login(ctx: &Ctx, args: &LoginArgs) -> Result<Value, Failure> {
    let body = crate::input::parse_kv_args(&args.args, &mut std::io::stdin().lock())
        .map_err(|e| Failure::local(format!("Failed to parse K=V data: {e}")))?;
    let mount = args.path.clone().unwrap_or_else(|| args.method.clone());
    let (path, body) = login_request(&args.method, &mount, body)?;
    let answer = ctx
        .client
        .without_token()
        .request("POST", &path, Some(&body), &[])
        .await
        .map_err(|e| Failure::api("Error authenticating", &e))?
        .ok_or_else(|| Failure::remote("Error authenticating: empty answer"))?;
    Ok(answer)
}

/// Token method: look the token up with itself to prove it works, then describe it.
async fn token_login(ctx: &Ctx, args: &LoginArgs) -> Result<Value, Failure> {
    let given = match args.args.as_slice() {
        [] => None,
        [one] => Some(one.strip_prefix("token=").unwrap_or(one).to_string()),
        more => {
            return Err(Failure::local(format!(
                "Too many arguments (expected at most 1, got {})",
                more.len()
            )))
        }
    };
    let token = match given {
        Some(t) if t != "-" => Sensitive::new(t),
        _ => prompt_secret("Token:", &mut std::io::stdin().lock()).map_err(Failure::local)?,
    };
    let lookup = ctx
        .client
        .with_token(token.clone())
        .read("auth/token/lookup-self")
        .await
        .map_err(|e| Failure::api("Error authenticating: error looking up token", &e))?
        .ok_or_else(|| Failure::remote("Error authenticating: token not found"))?;
    Ok(auth_from_lookup(&token, &lookup))
}

/// Turns a `lookup-self` answer into the `auth` block a login answer carries.
pub(crate) fn auth_from_lookup(token: &Sensitive<String>, lookup: &Value) -> Value {
    let data = lookup.get("data").cloned().unwrap_or(Value::Null);
    let field = |key: &str| data.get(key).cloned().unwrap_or(Value::Null);
    let policies = data.get("policies").cloned().unwrap_or_else(|| json!([]));
    json!({
        "request_id": lookup.get("request_id").cloned().unwrap_or(Value::Null),
        "lease_id": "",
        "lease_duration": 0,
        "renewable": false,
        "data": null,
        "warnings": lookup.get("warnings").cloned().unwrap_or(Value::Null),
        "auth": {
            "client_token": token.expose(),
            "accessor": field("accessor"),
            "policies": policies,
            "token_policies": policies,
            "identity_policies": data.get("identity_policies").cloned().unwrap_or_else(|| json!([])),
            "metadata": field("meta"),
            "lease_duration": data.get("ttl").and_then(Value::as_u64).unwrap_or(0),
            "renewable": data.get("renewable").and_then(Value::as_bool).unwrap_or(false),
            "entity_id": field("entity_id"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(pairs: &[(&str, &str)]) -> serde_json::Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect()
    }

    #[test]
    fn kubernetes_token_path_is_read_and_not_sent() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "eyJ.sa.sig\n").unwrap();
        let file = file.to_str().unwrap();
        let (path, sent) = login_request(
            "kubernetes",
            "k8s/",
            body(&[("role", "app"), ("token_path", file)]),
        )
        .unwrap();
        assert_eq!(path, "auth/k8s/login");
        assert_eq!(sent, json!({"role": "app", "jwt": "eyJ.sa.sig"}));

        let both = login_request(
            "kubernetes",
            "kubernetes",
            body(&[("jwt", "x"), ("token_path", file)]),
        );
        assert_eq!(
            both.unwrap_err().message,
            "Give either jwt= or token_path= for -method=kubernetes, not both"
        );
        let missing = dir.path().join("missing");
        let missing = missing.to_str().unwrap();
        let e = login_request("kubernetes", "kubernetes", body(&[("token_path", missing)]))
            .unwrap_err()
            .message;
        assert!(
            e.starts_with(&format!(
                "Missing jwt= and the service account token {missing} cannot be read: "
            )),
            "{e}"
        );
    }

    #[test]
    fn lookup_becomes_an_auth_block() {
        let lookup = json!({"data": {
            "accessor": "acc", "policies": ["default", "dev"], "ttl": 3600, "renewable": true,
            "meta": {"user": "ann"}
        }});
        let secret = auth_from_lookup(&Sensitive::new("hvs.x".to_string()), &lookup);
        let table = output::secret_table(&secret).unwrap();
        assert!(table.contains("token                hvs.x\n"), "{table}");
        assert!(table.contains("token_duration       1h\n"), "{table}");
        assert!(
            table.contains("policies             [\"default\" \"dev\"]\n"),
            "{table}"
        );
        assert!(table.ends_with("token_meta_user      ann"), "{table}");
    }
}
