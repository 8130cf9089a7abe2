//! `scan --git` and `scan --staged`: repositories made with the `git` program (the scanner
//! reads them in process), each commit a minute after the last so the history is the same
//! on every run.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::advise::{assert_document_shape, DOC_REQUEST};
use super::{run_scan, write};
use crate::harness::SECRETHUB;

/// Secrets committed in the repositories below; none may reach any output.
const GIT_DELETED: &str = "ghp_Zq8wLx2vR7mNp3sYb6cHf1jUa0eGi5oVtQwD";
const GIT_LIVE: &str = "sk_live_51Zq8wLx2vR7mNp3sYb6cHf1jUa0eGi5oVt";
const GIT_STAGED: &str = "glpat-Zq8wLx2vR7mNp3sYb6cH";

/// A repository in `dir` on branch `main`, with no user or system git configuration.
struct GitRepo {
    dir: std::path::PathBuf,
    clock: std::cell::Cell<u64>,
}

impl GitRepo {
    fn init(dir: &Path) -> GitRepo {
        std::fs::create_dir_all(dir).unwrap();
        let repo = GitRepo {
            dir: dir.to_path_buf(),
            clock: std::cell::Cell::new(1_700_000_000),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    fn git(&self, args: &[&str]) -> String {
        let date = format!("@{} +0000", self.clock.get());
        let out = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Grace Hopper")
            .env("GIT_AUTHOR_EMAIL", "grace@example.com")
            .env("GIT_COMMITTER_NAME", "Grace Hopper")
            .env("GIT_COMMITTER_EMAIL", "grace@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Writes `text` at `rel` and stages it.
    fn stage(&self, rel: &str, text: &str) {
        write(&self.dir, rel, text);
        self.git(&["add", rel]);
    }

    /// Writes, stages and commits `rel`, a minute after the last commit; answers its id.
    fn commit(&self, rel: &str, text: &str, message: &str) -> String {
        self.stage(rel, text);
        self.clock.set(self.clock.get() + 60);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

/// `secrethub scan ARGS` in `cwd`: exit code, stdout, stderr; fails if the last 16
/// characters of a secret of these repositories reached stdout or stderr.
fn scan_in(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let tails = [GIT_DELETED, GIT_LIVE, GIT_STAGED].map(|s| &s[s.len() - 16..]);
    run_scan(Some(cwd), args, &tails)
}

#[test]
fn scan_git_reports_each_secret_with_the_commit_that_brought_it_in() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::init(&dir.path().join("shop"));
    let added = repo.commit("ci.env", &format!("GITHUB_TOKEN={GIT_DELETED}\n"), "ci");
    repo.commit(
        "ci.env",
        "GITHUB_TOKEN=${GITHUB_TOKEN}\n",
        "use the CI's token",
    );
    let live = repo.commit(
        "billing/app.env",
        &format!("STRIPE_SECRET_KEY={GIT_LIVE}\n"),
        "billing",
    );
    repo.commit(
        "billing/app.env",
        &format!("A=1\nSTRIPE_SECRET_KEY={GIT_LIVE}\n"),
        "edit",
    );

    // From a subdirectory, `.` finds the repository.
    let sub = dir.path().join("shop/billing");
    let (code, stdout, stderr) = scan_in(&sub, &["--git", "."]);
    assert_eq!(code, 1, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("ci.env:1:14: github-token (api_keys) ghp_"),
        "{stdout}"
    );
    assert!(
        lines[0].ends_with(&format!(
            " in {} (2023-11-14, Grace Hopper), history only",
            &added[..12]
        )),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("billing/app.env:1:19: stripe-"),
        "{stdout}"
    );
    assert!(
        lines[1].ends_with(&format!(" in {} (2023-11-14, Grace Hopper)", &live[..12])),
        "{stdout}"
    );
    assert!(
        stderr.contains("scanned 4 commits, 4 file contents"),
        "{stderr}"
    );

    let root = dir.path().join("shop");
    let root_arg = root.to_str().unwrap();
    let (code, stdout, _) = scan_in(dir.path(), &["--git", "-format=json", root_arg]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let found: Vec<(&str, &str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["commit"].as_str().unwrap(),
                f["current_storage"].as_str().unwrap(),
                f["date"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (added.as_str(), "git history only", "2023-11-14T22:14:20Z"),
            (live.as_str(), ".env", "2023-11-14T22:16:20Z"),
        ]
    );
    let inventory: Vec<&str> = report["secret_inventory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["current_storage"].as_str().unwrap())
        .collect();
    assert!(inventory.contains(&"git history only"), "{inventory:?}");

    let (code, stdout, _) = scan_in(dir.path(), &["--git", "-format=sarif", root_arg]);
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results[0]["properties"]["commit"], added.as_str());
    assert_eq!(results[0]["properties"]["history_only"], true);
    assert_eq!(
        results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "billing/app.env"
    );

    // A baseline written by a history scan accepts its findings on the next one.
    let baseline = dir.path().join("baseline.json");
    let (_, json, _) = scan_in(dir.path(), &["--git", "-format=json", root_arg]);
    std::fs::write(&baseline, json).unwrap();
    let baseline_arg = format!("--baseline={}", baseline.display());
    let (code, stdout, stderr) = scan_in(dir.path(), &["--git", &baseline_arg, root_arg]);
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    assert!(
        stderr.contains("(2 more accepted by the baseline)"),
        "{stderr}"
    );

    // Not a repository: the scan itself failed.
    let (code, _, stderr) = scan_in(dir.path(), &["--git", "."]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not in a git repository"), "{stderr}");
}

#[test]
fn scan_staged_fails_only_on_what_the_next_commit_would_add() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::init(dir.path());
    // Before the first commit everything staged is new.
    repo.stage("svc/app.env", &format!("STRIPE_SECRET_KEY={GIT_LIVE}\n"));
    let (code, stdout, stderr) = scan_in(&dir.path().join("svc"), &["--staged"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.starts_with("svc/app.env:1:19: stripe-"), "{stdout}");
    assert!(
        !stdout.contains(" in "),
        "a staged finding has no commit: {stdout}"
    );
    repo.commit(
        "svc/app.env",
        &format!("STRIPE_SECRET_KEY={GIT_LIVE}\n"),
        "app",
    );

    // An edit next to a committed secret, and a secret only in the working tree: nothing
    // the commit would add.
    repo.stage(
        "svc/app.env",
        &format!("LOG=info\nSTRIPE_SECRET_KEY={GIT_LIVE}\n"),
    );
    write(
        dir.path(),
        "svc/local.env",
        &format!("GITLAB_TOKEN={GIT_STAGED}\n"),
    );
    let (code, stdout, stderr) = scan_in(dir.path(), &["--staged"]);
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    assert!(stderr.contains("scanned 1 staged files"), "{stderr}");

    // Staged, it is.
    repo.git(&["add", "svc/local.env"]);
    let (code, stdout, _) = scan_in(dir.path(), &["--staged", "-format=json"]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let found: Vec<(&str, u64)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(found, [("svc/local.env", 1)]);
    assert!(report["findings"][0].get("commit").is_none(), "{stdout}");
}

#[test]
fn advise_git_counts_what_only_the_history_still_holds() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shop");
    let repo = GitRepo::init(&root);
    repo.commit("ci.env", &format!("GITHUB_TOKEN={GIT_DELETED}\n"), "ci");
    repo.commit(
        "ci.env",
        "GITHUB_TOKEN=${GITHUB_TOKEN}\n",
        "use the CI's token",
    );
    repo.commit("app.env", &format!("STRIPE_SECRET_KEY={GIT_LIVE}\n"), "app");
    // Never committed: only the tree scan sees it.
    write(&root, "local.env", &format!("GITLAB_TOKEN={GIT_STAGED}\n"));
    let input = dir.path().join("request.json");
    std::fs::write(&input, DOC_REQUEST).unwrap();
    let input_arg = format!("--input={}", input.display());
    let advise = |extra: &[&str]| {
        let out = Command::new(SECRETHUB)
            .args(["advise", &input_arg])
            .args(extra)
            .arg(&root)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in [GIT_DELETED, GIT_LIVE, GIT_STAGED] {
            assert!(
                !text.contains(&secret[secret.len() - 16..]),
                "a secret reached the advice"
            );
        }
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // (storage, count) of each inventory entry.
    let storages = |stdout: &str| -> Vec<(String, u64)> {
        let report: Value = serde_json::from_str(stdout).unwrap();
        assert_document_shape(&report);
        let mut out: Vec<(String, u64)> = report["secret_inventory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let storage = e["current_storage"].as_str().unwrap().to_string();
                (storage, e["count"].as_u64().unwrap())
            })
            .collect();
        out.sort();
        out
    };

    let (code, stdout) = advise(&["--git"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        storages(&stdout),
        [(".env".to_string(), 2), ("git history only".to_string(), 1)]
    );
    let (code, stdout) = advise(&[]);
    assert_eq!(code, Some(0));
    assert_eq!(storages(&stdout), [(".env".to_string(), 2)]);
    // A plan moves the files' values; history cannot be moved.
    let plan_arg = format!("--plan={}", dir.path().join("plan").display());
    assert_eq!(advise(&["--git", &plan_arg]).0, Some(2));
}
