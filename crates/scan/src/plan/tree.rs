//! What the plan reads of a tree besides its findings: the Kubernetes manifests (where each
//! service runs, under which service account) and the checkout's `origin` remote (which
//! repository a CI job's token must name).

use std::path::Path;

use crate::filter::PathFilter;

/// Manifests larger than this are not read for the plan (generated bundles, not a service's
/// deployment).
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// The parts of a tree the plan reads besides the findings.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    /// Kubernetes manifests: path from the root and text.
    pub manifests: Vec<(String, String)>,
    /// The URL of the checkout's `origin` remote.
    pub git_remote: Option<String>,
}

/// Reads the manifests under `root` (the files the scan reads, with the same ignore
/// patterns) and the `origin` remote of the checkout `root` is in.
pub fn read_tree(root: &Path, ignore: &[String]) -> Tree {
    let mut files = Vec::new();
    if let Ok(filter) = PathFilter::for_root(root, ignore) {
        // An unreadable directory leaves the manifests found so far.
        let _ = crate::walk::collect(root, "", &filter, &mut files);
    }
    let manifests = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() <= MAX_MANIFEST_BYTES))
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            let is_manifest = text.lines().any(|l| l.starts_with("apiVersion:"))
                && text.lines().any(|l| l.starts_with("kind:"));
            let rel = p.strip_prefix(root).ok()?.to_string_lossy().into_owned();
            is_manifest.then_some((rel, text))
        })
        .collect();
    let git_remote = root
        .ancestors()
        .map(|dir| dir.join(".git").join("config"))
        .find(|config| config.is_file())
        .and_then(|config| std::fs::read_to_string(config).ok())
        .and_then(|text| origin_url(&text));
    Tree {
        manifests,
        git_remote,
    }
}

/// The `url` of `[remote "origin"]` in a git config file.
pub(crate) fn origin_url(config: &str) -> Option<String> {
    let mut in_origin = false;
    for line in config.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_origin = line.replace(' ', "") == "[remote\"origin\"]";
        } else if in_origin {
            if let Some((key, value)) = line.split_once('=') {
                if key.trim() == "url" {
                    return Some(value.trim().to_string());
                }
            }
        }
    }
    None
}

/// A remote URL's host and repository path (`owner/repo`, `group/subgroup/project`), from
/// the `https://`, `ssh://` and scp-like (`git@host:owner/repo.git`) forms.
pub(crate) fn repository(url: &str) -> Option<(String, String)> {
    let (host, path) = if let Some((_, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/')?;
        let host = authority.rsplit('@').next()?;
        (host.split(':').next()?, path)
    } else {
        let (user_host, path) = url.split_once(':')?;
        (user_host.rsplit('@').next()?, path)
    };
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    let valid = path.split('/').count() >= 2 && path.split('/').all(segment_ok);
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    (valid && host_ok).then(|| (host.to_ascii_lowercase(), path.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_remote_and_its_repository() {
        let config = "[core]\n\tbare = false\n[remote \"upstream\"]\n\turl = https://github.com/x/y\n\
                      [remote \"origin\"]\n\turl = git@github.com:acme/shop.git\n\tfetch = +refs/heads/*\n";
        let url = origin_url(config).unwrap();
        assert_eq!(url, "git@github.com:acme/shop.git");
        assert_eq!(
            repository(&url),
            Some(("github.com".into(), "acme/shop".into()))
        );
        assert_eq!(
            repository("https://oauth2@GitLab.example.com:8443/group/sub/project.git"),
            Some(("gitlab.example.com".into(), "group/sub/project".into()))
        );
        assert_eq!(
            repository("ssh://git@github.com/acme/shop"),
            Some(("github.com".into(), "acme/shop".into()))
        );
        assert_eq!(repository("/srv/git/shop.git"), None);
        assert_eq!(repository("git@github.com:acme/shop;rm.git"), None);
        assert_eq!(repository("https://github.com/acme"), None);
        assert_eq!(repository("https://github.com/acme/../x"), None);
    }

    #[test]
    fn the_tree_gives_its_manifests_and_the_remote_of_the_checkout_it_is_in() {
        let dir = tempfile::tempdir().unwrap();
        let checkout = dir.path();
        std::fs::create_dir_all(checkout.join(".git")).unwrap();
        std::fs::write(
            checkout.join(".git/config"),
            "[remote \"origin\"]\n\turl = https://github.com/acme/shop.git\n",
        )
        .unwrap();
        let root = checkout.join("services");
        let manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n";
        for (path, text) in [
            ("k8s/x.yaml", manifest),
            ("k8s/values.yaml", "replicas: 2\n"),
            ("node_modules/pkg/x.yaml", manifest),
            ("ignored/x.yml", manifest),
        ] {
            let file = root.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        let tree = read_tree(&root, &["ignored/".to_string()]);
        let paths: Vec<&str> = tree.manifests.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["k8s/x.yaml"]);
        assert_eq!(
            tree.git_remote.as_deref(),
            Some("https://github.com/acme/shop.git")
        );
    }
}
