//! History scans of small real repositories: when a secret came in, whether it is still
//! there, and what is read once or not at all.

use super::*;
use crate::testrepo::{token, TestRepo};

fn scan(repo: &TestRepo) -> HistoryReport {
    let rules = RuleSet::builtin().unwrap();
    scan_history(&rules, repo.root(), &WalkOptions::default()).unwrap()
}

/// Each finding as `(path, line, commit, history only)`.
fn found(report: &HistoryReport) -> Vec<(String, usize, String, bool)> {
    report
        .report
        .findings
        .iter()
        .map(|f| {
            let o = f.origin.as_ref().expect("a history finding has its commit");
            (f.path.clone(), f.line, o.commit.clone(), o.history_only)
        })
        .collect()
}

#[test]
fn a_deleted_secret_is_reported_with_the_commit_that_added_it() {
    let repo = TestRepo::new();
    let added = repo.commit_file("ci.env", &format!("GITHUB_TOKEN={}\n", token(10)), "add");
    repo.commit_file("README.md", "docs\n", "unrelated");
    repo.commit_file(
        "ci.env",
        "GITHUB_TOKEN=${GITHUB_TOKEN}\n",
        "remove the token",
    );
    let report = scan(&repo);
    assert_eq!(found(&report), [("ci.env".into(), 1, added.clone(), true)]);
    assert_eq!(report.commits, 3);
    let origin = report.report.findings[0].origin.as_ref().unwrap();
    assert_eq!(
        (origin.author.as_str(), origin.email.as_str()),
        ("Ada Lovelace", "ada@example.com")
    );
    assert_eq!(origin.date, "2023-11-14T22:14:20Z");
    assert_eq!(origin.short_commit(), &added[..12]);
}

#[test]
fn a_secret_kept_through_edits_is_reported_once_with_its_first_commit() {
    let repo = TestRepo::new();
    let first = repo.commit_file("app.env", &format!("GITHUB_TOKEN={}\n", token(11)), "add");
    repo.commit_file(
        "app.env",
        &format!("A=1\nGITHUB_TOKEN={}\n", token(11)),
        "edit",
    );
    repo.commit_file(
        "app.env",
        &format!("A=2\nB=3\nGITHUB_TOKEN={}\n", token(11)),
        "edit",
    );
    let report = scan(&repo);
    assert_eq!(found(&report), [("app.env".into(), 1, first, false)]);
    // Three contents of the file, each read once.
    assert_eq!(report.report.files_scanned, 3);
}

#[test]
fn a_renamed_file_keeps_its_first_path_and_commit() {
    let repo = TestRepo::new();
    let first = repo.commit_file(
        "old/ci.env",
        &format!("GITHUB_TOKEN={}\n", token(12)),
        "add",
    );
    repo.git(&["mv", "old", "new"]);
    repo.commit("rename the directory");
    let report = scan(&repo);
    // The same content under a new name is not read again; the value is still at HEAD.
    assert_eq!(found(&report), [("old/ci.env".into(), 1, first, false)]);
    assert_eq!(report.report.files_scanned, 1);
}

#[test]
fn merges_and_branches_not_merged_are_read() {
    let repo = TestRepo::new();
    repo.commit_file("README.md", "hello\n", "first");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let on_feature = repo.commit_file("f.env", &format!("GITHUB_TOKEN={}\n", token(13)), "f");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit_file("m.txt", "main\n", "on main");
    // A merge that also brings a value of its own (an "evil" merge).
    repo.git(&["merge", "-q", "--no-ff", "--no-commit", "feature"]);
    repo.write("merge.env", format!("GITHUB_TOKEN={}\n", token(14)));
    repo.git(&["add", "merge.env"]);
    let merge = repo.commit("merge feature");
    // A branch never merged.
    repo.git(&["checkout", "-q", "-b", "experiment"]);
    let unmerged = repo.commit_file("x.env", &format!("GITHUB_TOKEN={}\n", token(15)), "x");
    repo.git(&["checkout", "-q", "main"]);
    let report = scan(&repo);
    assert_eq!(
        found(&report),
        [
            ("f.env".into(), 1, on_feature, false),
            ("merge.env".into(), 1, merge, false),
            ("x.env".into(), 1, unmerged, true),
        ]
    );
}

#[test]
fn binary_lock_vendored_and_ignored_files_are_not_read() {
    let repo = TestRepo::new();
    let line = format!("GITHUB_TOKEN={}\n", token(16));
    let mut binary = line.clone().into_bytes();
    binary.insert(0, 0);
    repo.write("blob.bin", binary);
    repo.write("Cargo.lock", &line);
    repo.write("node_modules/pkg/x.env", &line);
    repo.write("fixtures/x.env", &line);
    repo.write(".secrethubignore", "/fixtures/\n");
    repo.git(&["add", "."]);
    repo.commit("everything");
    let report = scan(&repo);
    assert!(report.report.findings.is_empty(), "{:?}", found(&report));
    // .secrethubignore read, blob.bin skipped as binary.
    assert_eq!(
        (report.report.files_scanned, report.report.files_skipped),
        (1, 1)
    );
}

#[test]
fn an_empty_repository_has_nothing_to_report() {
    let repo = TestRepo::new();
    let report = scan(&repo);
    assert_eq!((report.commits, report.report.findings.len()), (0, 0));
}

#[test]
fn a_shallow_clone_is_read_as_far_as_it_goes() {
    let origin = TestRepo::new();
    origin.commit_file("ci.env", &format!("GITHUB_TOKEN={}\n", token(17)), "add");
    origin.commit_file("README.md", "docs\n", "docs");
    let clone = TestRepo::new();
    let url = format!("file://{}", origin.root().display());
    clone.git(&["fetch", "-q", "--depth=1", &url, "main:tip"]);
    clone.git(&["checkout", "-q", "tip"]);
    let tip = clone.git(&["rev-parse", "HEAD"]);
    let report = scan(&clone);
    // The commit that added the token is not in the clone: its oldest commit holds it.
    assert_eq!(report.commits, 1);
    assert_eq!(found(&report), [("ci.env".into(), 1, tip, false)]);
}
