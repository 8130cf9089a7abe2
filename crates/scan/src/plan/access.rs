//! How each service logs in to read what the plan moved, and the auth mounts that needs.
//!
//! - A service on Kubernetes (the request's platform): a `kubernetes` role named after it,
//!   bound to its workload's service account and namespace (`manifests.rs`), with its policy.
//!   The method's config (the cluster's API address and CA) needs the cluster, so it is a
//!   proposal; roles can be written before it.
//! - A service elsewhere: an AppRole role with its policy; delivering the role ID and secret
//!   IDs is a proposal.
//! - Secrets found in GitHub Actions or GitLab CI config: a `jwt` role for the CI, bound to
//!   the repository (GitHub's `repository` claim, GitLab's `project_path`) of the checkout's
//!   `origin` on github.com or a GitLab host, and the `jwt` mount configured with that CI's
//!   issuer. Without a repository to bind, a JWT role would let any workflow of any
//!   repository in, so the CI gets an AppRole role instead and JWT is proposed.

use std::collections::{BTreeMap, BTreeSet};

use super::{ci_of, manifests, tree, Binding, PlanInput, Step};

/// GitHub Actions' OIDC issuer.
const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The audience a GitLab job asks its ID token for (`id_tokens: …: aud:`).
const GITLAB_AUDIENCE: &str = "secrethub";
/// CI jobs are short: their tokens are too.
const CI_TOKEN_TTL: u64 = 15 * 60;
const CI_TOKEN_MAX_TTL: u64 = 60 * 60;

/// What `derive` adds to a plan.
#[derive(Default)]
pub(crate) struct Access {
    /// Auth mounts to enable: path → type.
    pub(crate) mounts: BTreeMap<String, &'static str>,
    /// Config and role writes.
    pub(crate) steps: Vec<Step>,
    /// What a person does.
    pub(crate) proposals: Vec<Step>,
}

impl Access {
    fn propose(&mut self, what: String) {
        self.proposals.push(Step::Proposal { what });
    }

    fn role(&mut self, mount: &str, name: &str, binding: Binding, ttl: u64, max_ttl: u64) {
        self.steps.push(Step::AuthRole {
            mount: mount.to_string(),
            name: name.to_string(),
            binding,
            policies: vec![name.to_string()],
            token_ttl: ttl,
            token_max_ttl: max_ttl,
        });
    }

    fn approle(&mut self, service: &str, ttl: u64, max_ttl: u64) {
        self.mounts.insert("approle".into(), "approle");
        self.role("approle", service, Binding::Approle, ttl, max_ttl);
        self.propose(format!(
            "give {service} its AppRole login: the role ID from auth/approle/role/{service}/role-id in its deployment, a secret ID from secrethub write -wrap-ttl=10m -f auth/approle/role/{service}/secret-id delivered by your deploy tooling"
        ));
    }
}

/// The CI's JWT issuer, audience and bound claim for a repository at `host`, when `ci`
/// runs there.
fn jwt_binding(ci: &str, host: &str, repository: &str) -> Option<(String, Binding)> {
    let (issuer, audience, claim) = match ci {
        "github-actions" if host == "github.com" => {
            let owner = repository.split('/').next()?;
            (
                GITHUB_ISSUER.to_string(),
                format!("https://github.com/{owner}"),
                "repository",
            )
        }
        "gitlab-ci" if host.contains("gitlab") => (
            format!("https://{host}"),
            GITLAB_AUDIENCE.to_string(),
            "project_path",
        ),
        _ => return None,
    };
    let binding = Binding::Jwt {
        bound_audiences: vec![audience],
        bound_claims: BTreeMap::from([(claim.to_string(), repository.to_string())]),
        user_claim: claim.to_string(),
    };
    Some((issuer, binding))
}

/// The auth steps for `services` (see the module docs).
pub(crate) fn derive(input: &PlanInput, services: &BTreeSet<String>) -> Access {
    let mut access = Access::default();
    let ttl = crate::advise::short_ttl_secs(input.request);
    let max_ttl = crate::advise::MAX_TTL_SECS;
    let ci_services: BTreeSet<&str> = input
        .assessed
        .iter()
        .filter_map(|a| ci_of(&a.finding.path))
        .collect();
    let workloads: Vec<&String> = services
        .iter()
        .filter(|s| !ci_services.contains(s.as_str()))
        .collect();

    if input.request.kubernetes() && !workloads.is_empty() {
        access.mounts.insert("kubernetes".into(), "kubernetes");
        for service in &workloads {
            let at = manifests::placement(service, &input.tree.manifests);
            match (&at.workload, at.names_account) {
                (Some(_), true) => {}
                (Some(w), false) => access.propose(format!(
                    "{w}: set serviceAccountName: {} (and create that ServiceAccount in {}) so only {service}'s pods log in as {service}",
                    at.service_account, at.namespace
                )),
                (None, _) => access.propose(format!(
                    "run {service} as the service account {} in the namespace {} (no workload of it was found in the manifests)",
                    at.service_account, at.namespace
                )),
            }
            let binding = Binding::Kubernetes {
                service_accounts: vec![at.service_account],
                namespaces: vec![at.namespace],
            };
            access.role("kubernetes", service, binding, ttl, max_ttl);
        }
        access.propose(
            "configure the kubernetes auth method with your cluster: secrethub write auth/kubernetes/config kubernetes_host=https://<API server> kubernetes_ca_cert=@ca.crt (pods then log in with their service account token and their role's name)".into(),
        );
    } else {
        for service in &workloads {
            access.approle(service, ttl, max_ttl);
        }
    }

    let repository = input.tree.git_remote.as_deref().and_then(tree::repository);
    for ci in ci_services {
        let binding = repository
            .as_ref()
            .and_then(|(host, repo)| jwt_binding(ci, host, repo));
        let Some((issuer, binding)) = binding else {
            access.approle(ci, CI_TOKEN_TTL, CI_TOKEN_MAX_TTL);
            access.propose(format!(
                "{ci}: log in with the CI's ID token (JWT) instead of an AppRole secret ID once the repository is known: an auth/jwt role bound to it (no origin remote on github.com or a GitLab host was found)"
            ));
            continue;
        };
        // One issuer per mount, and there is one: a checkout has one origin, on GitHub or on
        // a GitLab host, so at most one CI gets a JWT role.
        access.mounts.insert("jwt".into(), "jwt");
        access.steps.push(Step::JwtConfig {
            mount: "jwt".into(),
            issuer,
        });
        let how = match &binding {
            Binding::Jwt {
                bound_audiences, ..
            } if ci == "github-actions" => format!(
                "in the workflow: permissions: id-token: write, then log in to auth/jwt/login with role={ci} and the job's ID token for the audience {}",
                bound_audiences.join(",")
            ),
            _ => format!(
                "in the job: id_tokens: SECRETHUB_ID_TOKEN: aud: {GITLAB_AUDIENCE}, then log in to auth/jwt/login with role={ci} and jwt=$SECRETHUB_ID_TOKEN"
            ),
        };
        access.role("jwt", ci, binding, CI_TOKEN_TTL, CI_TOKEN_MAX_TTL);
        access.propose(format!("{ci}: {how}"));
    }
    access
}
