//! `secrethub scan --staged`, the pre-commit check: what the next commit would add. Each
//! index entry whose content differs from HEAD's at its path (or that HEAD lacks) is
//! scanned; a value is reported only when it is in neither HEAD's version of that file nor a
//! file the commit removes (a rename moves a value, it does not add one). Edits in the
//! working tree that are not staged are not read. Before the first commit, everything
//! staged is new.

use std::collections::HashSet;
use std::path::Path;

use gix::bstr::{BStr, ByteSlice};
use gix::ObjectId;
use secrethub_scan::{is_skipped_path, parallel_map, Finding, RuleSet, TreeReport, WalkOptions};

use crate::blob::{head_files, scan_blob};
use crate::{open, GitScanError};

/// A staged file content that differs from HEAD's.
struct Staged {
    blob: ObjectId,
    path: String,
    /// HEAD's content at the same path, if it has one.
    before: Option<ObjectId>,
}

/// Scans what is staged in the repository holding `dir`; findings name paths from the
/// repository's root.
pub fn scan_staged(
    rules: &RuleSet,
    dir: &Path,
    options: &WalkOptions,
) -> Result<TreeReport, GitScanError> {
    let (repo, ignore) = open(dir, options)?;
    let index = repo
        .index_or_empty()
        .map_err(|e| GitScanError::read("the index", e))?;
    let head = head_files(&repo)?;
    let mut in_index: HashSet<&BStr> = HashSet::new();
    let mut staged = Vec::new();
    for entry in index.entries() {
        let path = entry.path(&index);
        in_index.insert(path);
        // A conflicted entry cannot be committed; symbolic links and submodules are no files.
        let file = entry.mode == gix::index::entry::Mode::FILE
            || entry.mode == gix::index::entry::Mode::FILE_EXECUTABLE;
        if entry.stage_raw() != 0 || !file {
            continue;
        }
        let before = head.get(path).copied();
        let shown = path.to_string();
        if before == Some(entry.id) || is_skipped_path(&shown) || ignore.ignores(&shown) {
            continue;
        }
        staged.push(Staged {
            blob: entry.id,
            path: shown,
            before,
        });
    }
    let removed: Vec<(String, ObjectId)> = head
        .iter()
        .filter(|(path, _)| !in_index.contains(path.as_bstr()))
        .map(|(path, id)| (path.to_string(), *id))
        .collect();

    let shared = repo.clone().into_sync();
    let limit = options.max_file_bytes;
    let scanned = parallel_map(
        &staged,
        options.threads,
        || shared.to_thread_local(),
        |repo, s| scan_blob(repo, rules, s.blob, &s.path, limit),
    );
    let mut report = TreeReport::default();
    let mut candidates: Vec<(&Staged, Finding)> = Vec::new();
    for (s, outcome) in staged.iter().zip(scanned) {
        candidates.extend(report.tally(outcome).into_iter().map(|f| (s, f)));
    }
    if candidates.is_empty() {
        return Ok(report);
    }
    // Only now, with something found, are HEAD's versions read: what they hold is not new.
    let values_in = |blob: ObjectId, path: &str| -> HashSet<String> {
        scan_blob(&repo, rules, blob, path, limit)
            .map(|(_, found)| found.into_iter().map(|f| f.fingerprint).collect())
            .unwrap_or_default()
    };
    let moved: HashSet<String> = removed
        .iter()
        .flat_map(|(path, blob)| values_in(*blob, path))
        .collect();
    let mut before_cache: std::collections::HashMap<ObjectId, HashSet<String>> = Default::default();
    for (s, finding) in candidates {
        let committed = match s.before {
            Some(before) => before_cache
                .entry(before)
                .or_insert_with(|| values_in(before, &s.path))
                .contains(&finding.fingerprint),
            None => false,
        };
        if !committed && !moved.contains(&finding.fingerprint) {
            report.findings.push(finding);
        }
    }
    report.sort_by_place();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testrepo::{token, TestRepo};

    fn staged(repo: &TestRepo) -> Vec<(String, usize)> {
        let rules = RuleSet::builtin().unwrap();
        scan_staged(&rules, repo.root(), &WalkOptions::default())
            .unwrap()
            .findings
            .into_iter()
            .map(|f| (f.path, f.line))
            .collect()
    }

    #[test]
    fn a_newly_staged_secret_is_reported_and_an_unstaged_one_is_not() {
        let repo = TestRepo::new();
        repo.commit_file("README.md", "hello\n", "first");
        repo.write("config/ci.env", format!("A=1\nGITHUB_TOKEN={}\n", token(1)));
        repo.git(&["add", "config/ci.env"]);
        // Written after `git add`: in the working tree, not in the commit.
        repo.write(
            "config/ci.env",
            format!("A=1\nGITHUB_TOKEN={}\nB={}\n", token(1), token(2)),
        );
        repo.write("notes.env", format!("GITHUB_TOKEN={}\n", token(3)));
        assert_eq!(staged(&repo), [("config/ci.env".to_string(), 2)]);
    }

    #[test]
    fn a_secret_already_in_head_is_not_reported_again() {
        let repo = TestRepo::new();
        repo.commit_file("app.env", &format!("GITHUB_TOKEN={}\n", token(4)), "first");
        // An edit elsewhere in the file, and a rename of another committed file.
        repo.commit_file("old.env", &format!("GITHUB_TOKEN={}\n", token(5)), "second");
        repo.write("app.env", format!("LOG=debug\nGITHUB_TOKEN={}\n", token(4)));
        repo.git(&["add", "app.env"]);
        repo.git(&["mv", "old.env", "new.env"]);
        assert!(staged(&repo).is_empty());
        // A new value in the same file is.
        repo.write(
            "app.env",
            format!("LOG=debug\nGITHUB_TOKEN={}\nX={}\n", token(4), token(6)),
        );
        repo.git(&["add", "app.env"]);
        assert_eq!(staged(&repo), [("app.env".to_string(), 3)]);
    }

    #[test]
    fn before_the_first_commit_everything_staged_is_new_and_a_subdirectory_finds_the_repo() {
        let repo = TestRepo::new();
        repo.write("svc/deploy/ci.env", format!("GITHUB_TOKEN={}\n", token(7)));
        repo.write(
            "svc/package-lock.json",
            format!("{{\"t\": \"{}\"}}\n", token(8)),
        );
        repo.git(&["add", "svc"]);
        let rules = RuleSet::builtin().unwrap();
        let from_below = repo.root().join("svc/deploy");
        let found = scan_staged(&rules, &from_below, &WalkOptions::default()).unwrap();
        let paths: Vec<&str> = found.findings.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["svc/deploy/ci.env"]);
        assert!(found.findings[0].origin.is_none());
    }

    #[test]
    fn outside_a_repository_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let rules = RuleSet::builtin().unwrap();
        let err = scan_staged(&rules, dir.path(), &WalkOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("is not in a git repository"),
            "{err}"
        );
    }
}
