//! `secrethub scan --git`: every file content ever committed, each scanned once, each secret
//! reported once per path with the commit that first brought it in.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use gix::object::tree::EntryKind;
use gix::ObjectId;
use secrethub_scan::{
    is_skipped_dir, is_skipped_file, parallel_map, Finding, GitOrigin, PathFilter, RuleSet,
    TreeReport, WalkOptions,
};

use crate::blob::{head_files, scan_blob};
use crate::commits::{in_order, CommitNode};
use crate::{open, GitScanError};

/// What a history scan read and found.
#[derive(Debug, Default)]
pub struct HistoryReport {
    /// The findings (each with its [`GitOrigin`]), oldest commit first; `files_scanned`
    /// counts distinct file contents.
    pub report: TreeReport,
    /// Commits read.
    pub commits: usize,
}

/// A file content to scan: its first appearance, oldest commit first.
struct FirstSeen {
    blob: ObjectId,
    path: String,
    /// Index of the commit in the walk's order.
    commit: usize,
}

/// Scans the history of the repository holding `dir` (see the crate docs).
pub fn scan_history(
    rules: &RuleSet,
    dir: &Path,
    options: &WalkOptions,
) -> Result<HistoryReport, GitScanError> {
    let (repo, ignore) = open(dir, options)?;
    let commits = in_order(&repo)?;
    let firsts = first_appearances(&repo, &commits, &ignore)?;
    let at_head: HashSet<ObjectId> = head_files(&repo)?.into_values().collect();
    let shared = repo.clone().into_sync();
    let scanned = parallel_map(
        &firsts,
        options.threads,
        || shared.to_thread_local(),
        |repo, first| scan_blob(repo, rules, first.blob, &first.path, options.max_file_bytes),
    );

    let mut report = TreeReport::default();
    // Values per path already reported, and values in some file of HEAD.
    let mut known: HashSet<(String, String)> = HashSet::new();
    let mut in_head: HashSet<String> = HashSet::new();
    let mut found: Vec<(usize, Finding)> = Vec::new();
    for (first, outcome) in firsts.iter().zip(scanned) {
        let findings = report.tally(outcome);
        if at_head.contains(&first.blob) {
            in_head.extend(findings.iter().map(|f| f.fingerprint.clone()));
        }
        // Kept when new to its path; two lines of one content holding a value both stay.
        let new: Vec<Finding> = findings
            .into_iter()
            .filter(|f| !known.contains(&(f.fingerprint.clone(), f.path.clone())))
            .collect();
        known.extend(new.iter().map(|f| (f.fingerprint.clone(), f.path.clone())));
        found.extend(new.into_iter().map(|f| (first.commit, f)));
    }

    let mut origins: HashMap<usize, GitOrigin> = HashMap::new();
    for (commit, finding) in &mut found {
        let origin = match origins.get(commit) {
            Some(o) => o.clone(),
            None => {
                let o = origin_of(&repo, commits[*commit].id)?;
                origins.insert(*commit, o.clone());
                o
            }
        };
        finding.origin = Some(GitOrigin {
            history_only: !in_head.contains(&finding.fingerprint),
            ..origin
        });
    }
    found.sort_by(|(ca, a), (cb, b)| {
        (ca, &a.path, a.line, a.column).cmp(&(cb, &b.path, b.line, b.column))
    });
    report.findings = found.into_iter().map(|(_, f)| f).collect();
    Ok(HistoryReport {
        report,
        commits: commits.len(),
    })
}

/// Every file content's first appearance: commits in order, each one's tree walked, but a
/// directory already walked at the same path with the same content (most of them, in a
/// commit that changed a few files) is not walked again, and a content already seen is
/// not listed again. Skipped directories, lock files and ignored paths are left out as the
/// working tree walk leaves them out.
fn first_appearances(
    repo: &gix::Repository,
    commits: &[CommitNode],
    ignore: &PathFilter,
) -> Result<Vec<FirstSeen>, GitScanError> {
    let mut walked: HashSet<(ObjectId, String)> = HashSet::new();
    let mut seen: HashSet<ObjectId> = HashSet::new();
    let mut out = Vec::new();
    for (index, commit) in commits.iter().enumerate() {
        let mut stack = vec![(commit.tree, String::new())];
        while let Some((id, dir)) = stack.pop() {
            // Keyed by path too: the ignore patterns may treat the same directory
            // differently elsewhere.
            if !walked.insert((id, dir.clone())) {
                continue;
            }
            let read = |e| GitScanError::read(format!("tree {id} ({})", commit.id), e);
            let tree = repo.find_tree(id).map_err(read)?;
            let entries = tree
                .decode()
                .map_err(|e| GitScanError::read(format!("tree {id}"), e))?
                .entries;
            for entry in entries {
                let name = entry.filename.to_string();
                let path = if dir.is_empty() {
                    name.clone()
                } else {
                    format!("{dir}/{name}")
                };
                let kind = entry.mode.kind();
                let file = matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable);
                if (kind == EntryKind::Tree && is_skipped_dir(&name))
                    || (file && is_skipped_file(&name))
                    || ignore.ignores(&path)
                {
                    continue;
                }
                if kind == EntryKind::Tree {
                    stack.push((entry.oid.to_owned(), path));
                } else if file && seen.insert(entry.oid.to_owned()) {
                    out.push(FirstSeen {
                        blob: entry.oid.to_owned(),
                        path,
                        commit: index,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The commit's id, author and author date.
fn origin_of(repo: &gix::Repository, id: ObjectId) -> Result<GitOrigin, GitScanError> {
    let what = || format!("commit {id}");
    let commit = repo
        .find_commit(id)
        .map_err(|e| GitScanError::read(what(), e))?;
    let author = commit
        .author()
        .map_err(|e| GitScanError::read(what(), e))?
        .trim();
    let seconds = u64::try_from(author.seconds()).unwrap_or(0);
    Ok(GitOrigin {
        commit: id.to_string(),
        author: author.name.to_string(),
        email: author.email.to_string(),
        date: humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(seconds))
            .to_string(),
        history_only: false,
    })
}

#[cfg(test)]
mod tests;
