//! Reading and scanning one file content (blob), and listing a tree's files: what the
//! history and the staged scan share.

use std::collections::HashMap;

use gix::bstr::BString;
use gix::object::tree::EntryKind;
use gix::ObjectId;
use secrethub_scan::{text_of, Finding, RuleSet};

use crate::GitScanError;

/// What scanning one blob gave: its size and findings, or `None` when it was skipped
/// (larger than the limit, binary, or unreadable, as in a partial clone without it).
pub(crate) type Scanned = Option<(u64, Vec<Finding>)>;

/// Scans the blob `id` as the file `path`; one read of its header first, so a blob over
/// `limit` bytes is never inflated.
pub(crate) fn scan_blob(
    repo: &gix::Repository,
    rules: &RuleSet,
    id: ObjectId,
    path: &str,
    limit: u64,
) -> Scanned {
    if repo.find_header(id).ok()?.size() > limit {
        return None;
    }
    let text = text_of(repo.find_blob(id).ok()?.take_data())?;
    Some((text.len() as u64, rules.scan_file(path, &text)))
}

/// Every file (blob, executable or not) under the tree `root`, by its `/`-separated path.
/// Symbolic links and submodules are not files here.
pub(crate) fn files_of(
    repo: &gix::Repository,
    root: ObjectId,
) -> Result<HashMap<BString, ObjectId>, GitScanError> {
    let mut files = HashMap::new();
    let mut stack = vec![(root, BString::default())];
    while let Some((id, dir)) = stack.pop() {
        let tree = repo
            .find_tree(id)
            .map_err(|e| GitScanError::read(format!("tree {id}"), e))?;
        let decoded = tree
            .decode()
            .map_err(|e| GitScanError::read(format!("tree {id}"), e))?;
        for entry in &decoded.entries {
            let mut path = dir.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(entry.filename);
            match entry.mode.kind() {
                EntryKind::Tree => stack.push((entry.oid.to_owned(), path)),
                EntryKind::Blob | EntryKind::BlobExecutable => {
                    files.insert(path, entry.oid.to_owned());
                }
                EntryKind::Link | EntryKind::Commit => {}
            }
        }
    }
    Ok(files)
}

/// Every file of HEAD (see [`files_of`]); none before the first commit.
pub(crate) fn head_files(
    repo: &gix::Repository,
) -> Result<HashMap<BString, ObjectId>, GitScanError> {
    let head = repo.head().map_err(|e| GitScanError::read("HEAD", e))?;
    if head.is_unborn() {
        return Ok(HashMap::new());
    }
    let tree = repo
        .head_tree_id()
        .map_err(|e| GitScanError::read("HEAD's tree", e))?;
    files_of(repo, tree.detach())
}
