//! Where a service runs on Kubernetes, read from the tree's manifests: the namespace and the
//! service account of its workload (a Deployment, StatefulSet, DaemonSet, Job, CronJob or
//! Pod named after the service, else one in the service's own directory).
//!
//! The manifests are read line by line for the few fields needed (`kind`, `metadata.name`,
//! `metadata.namespace`, `serviceAccountName`) rather than parsed as YAML, so no file in the
//! scanned tree can make a parser recurse deeply.

use super::service_of;

const WORKLOAD_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Pod",
];

/// One object of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Object {
    path: String,
    kind: String,
    name: String,
    namespace: Option<String>,
    service_account: Option<String>,
}

/// Where a service's pods run and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    pub(crate) namespace: String,
    pub(crate) service_account: String,
    /// The workload found for the service (`k8s/orders.yaml: Deployment orders`).
    pub(crate) workload: Option<String>,
    /// Whether that workload names its service account (else its pods run as `default`).
    pub(crate) names_account: bool,
}

/// A scalar as written (`name: "x"  # comment` → `x`).
fn scalar(v: &str) -> String {
    let v = v.split(" #").next().unwrap_or(v).trim();
    v.trim_matches(|c| c == '"' || c == '\'').to_string()
}

/// A Kubernetes name (DNS label or subdomain): what may be bound.
fn is_kube_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn objects(path: &str, text: &str) -> Vec<Object> {
    let mut out = Vec::new();
    let mut docs = vec![Vec::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(Vec::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push(line);
        }
    }
    for doc in docs {
        let mut o = Object {
            path: path.to_string(),
            kind: String::new(),
            name: String::new(),
            namespace: None,
            service_account: None,
        };
        let mut in_metadata = false;
        let mut metadata_indent = None;
        for line in doc {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let depth = indent(line);
            if depth == 0 {
                in_metadata = trimmed == "metadata:";
                metadata_indent = None;
                if let Some(kind) = trimmed.strip_prefix("kind:") {
                    o.kind = scalar(kind);
                }
            } else if in_metadata {
                let child = *metadata_indent.get_or_insert(depth);
                if depth == child {
                    if let Some(v) = trimmed.strip_prefix("name:") {
                        o.name = scalar(v);
                    } else if let Some(v) = trimmed.strip_prefix("namespace:") {
                        o.namespace = Some(scalar(v)).filter(|n| is_kube_name(n));
                    }
                }
            }
            if let Some(v) = trimmed.strip_prefix("serviceAccountName:") {
                if o.service_account.is_none() {
                    o.service_account = Some(scalar(v)).filter(|n| is_kube_name(n));
                }
            }
        }
        if !o.kind.is_empty() && is_kube_name(&o.name) {
            out.push(o);
        }
    }
    out
}

/// Where `service` runs: its workload's namespace and service account; else the one
/// namespace the manifests use, if they agree on one, else `default`; the account named
/// after the service.
pub(crate) fn placement(service: &str, manifests: &[(String, String)]) -> Placement {
    let all: Vec<Object> = manifests
        .iter()
        .flat_map(|(path, text)| objects(path, text))
        .collect();
    let mut namespaces: Vec<&str> = all
        .iter()
        .filter_map(|o| match o.kind.as_str() {
            "Namespace" => Some(o.name.as_str()),
            _ => o.namespace.as_deref(),
        })
        .collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    let shared = match namespaces.as_slice() {
        [one] => one.to_string(),
        _ => "default".to_string(),
    };
    // Named after the service first; else in the service's own directory (never a generic
    // one such as `k8s/`, whose files belong to every service).
    let workloads = || {
        all.iter()
            .filter(|o| WORKLOAD_KINDS.contains(&o.kind.as_str()))
    };
    let workload = workloads()
        .find(|o| o.name == service || o.name.starts_with(&format!("{service}-")))
        .or_else(|| {
            workloads().find(|o| {
                o.path.contains('/') && service_of(&o.path) == service && service != "app"
            })
        });
    match workload {
        Some(w) => Placement {
            namespace: w.namespace.clone().unwrap_or(shared),
            service_account: w
                .service_account
                .clone()
                .unwrap_or_else(|| service.to_string()),
            workload: Some(format!("{}: {} {}", w.path, w.kind, w.name)),
            names_account: w.service_account.is_some(),
        },
        None => Placement {
            namespace: shared,
            service_account: service.to_string(),
            workload: None,
            names_account: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: orders\n  \
        namespace: shop # prod\n  labels:\n    name: not-this\nspec:\n  template:\n    spec:\n      \
        serviceAccountName: \"orders-sa\"\n      containers:\n        - name: orders\n";

    #[test]
    fn a_services_workload_gives_its_namespace_and_account() {
        let manifests = vec![
            (
                "k8s/ns.yaml".to_string(),
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n".to_string(),
            ),
            (
                "k8s/orders.yaml".to_string(),
                format!(
                    "{DEPLOYMENT}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: orders\n"
                ),
            ),
        ];
        assert_eq!(
            placement("orders", &manifests),
            Placement {
                namespace: "shop".into(),
                service_account: "orders-sa".into(),
                workload: Some("k8s/orders.yaml: Deployment orders".into()),
                names_account: true,
            }
        );
        // No workload of its own: the namespace the manifests agree on, an account of its own.
        assert_eq!(
            placement("billing", &manifests),
            Placement {
                namespace: "shop".into(),
                service_account: "billing".into(),
                workload: None,
                names_account: false,
            }
        );
        // A workload of another service in a generic directory is not app's.
        assert_eq!(placement("app", &manifests).service_account, "app");
        // Two namespaces and nothing to choose between them: default.
        let mut two = manifests.clone();
        two.push((
            "k8s/other.yaml".into(),
            "kind: ConfigMap\nmetadata:\n  name: x\n  namespace: ops\n".into(),
        ));
        assert_eq!(placement("billing", &two).namespace, "default");
        assert_eq!(placement("orders", &two).namespace, "shop");
    }
}
