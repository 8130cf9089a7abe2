//! The commits a history scan reads: every one reachable from a reference or HEAD (branches,
//! tags, remote-tracking branches, stashes, a detached HEAD; what `git log --all` lists),
//! in topological order, parents before children, and among commits free to go next the
//! oldest first, so "the first commit holding a value" means the one that brought it in.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use gix::ObjectId;

use crate::GitScanError;

/// One commit, as much of it as ordering and walking need.
#[derive(Debug, Clone)]
pub(crate) struct CommitNode {
    /// The commit.
    pub(crate) id: ObjectId,
    /// Its root tree.
    pub(crate) tree: ObjectId,
}

/// What the ordering needs to know of a commit besides its id.
struct Parsed {
    tree: ObjectId,
    parents: Vec<ObjectId>,
    committed: i64,
}

/// The commits every reference and HEAD reach, each once, parents first.
pub(crate) fn in_order(repo: &gix::Repository) -> Result<Vec<CommitNode>, GitScanError> {
    let mut parsed: HashMap<ObjectId, Parsed> = HashMap::new();
    let mut pending = tips(repo)?;
    while let Some(id) = pending.pop() {
        if parsed.contains_key(&id) {
            continue;
        }
        // A parent a shallow clone left out, or a reference to a tree or blob, is no commit
        // of the walk.
        let Some(object) = repo
            .try_find_object(id)
            .map_err(|e| GitScanError::read(format!("object {id}"), e))?
        else {
            continue;
        };
        let Ok(commit) = object.try_into_commit() else {
            continue;
        };
        let read = |e| GitScanError::read(format!("commit {id}"), e);
        let tree = commit.iter().tree_id().map_err(read)?;
        let parents: Vec<ObjectId> = commit.iter().parent_ids().collect();
        let committed = commit.iter().committer().map_err(read)?.seconds();
        pending.extend(parents.iter().copied());
        parsed.insert(
            id,
            Parsed {
                tree,
                parents,
                committed,
            },
        );
    }
    Ok(topological(parsed))
}

/// The ids every reference (peeled through annotated tags) and HEAD point at.
fn tips(repo: &gix::Repository) -> Result<Vec<ObjectId>, GitScanError> {
    let refs = |e| GitScanError::read("the references", e);
    let platform = repo.references().map_err(refs)?;
    let mut out = Vec::new();
    for reference in platform
        .all()
        .map_err(|e| GitScanError::read("the references", e))?
        .peeled()
        .map_err(refs)?
    {
        let reference = reference.map_err(|e| GitScanError::Read {
            what: "a reference".into(),
            source: e,
        })?;
        if let Some(id) = reference.try_id() {
            out.push(id.detach());
        }
    }
    // A detached HEAD is in no reference; an unborn one points nowhere.
    if let Ok(id) = repo.head_id() {
        out.push(id.detach());
    }
    Ok(out)
}

/// Kahn's algorithm: a commit goes once all its parents have; among those ready, the one
/// committed first (then the smaller id, so the order never depends on hashing).
fn topological(mut parsed: HashMap<ObjectId, Parsed>) -> Vec<CommitNode> {
    let mut children: HashMap<ObjectId, Vec<ObjectId>> = HashMap::new();
    let mut waiting_on: HashMap<ObjectId, usize> = HashMap::new();
    let mut ready = BinaryHeap::new();
    for (id, commit) in &parsed {
        let known: Vec<&ObjectId> = commit
            .parents
            .iter()
            .filter(|p| parsed.contains_key(*p))
            .collect();
        for parent in &known {
            children.entry(**parent).or_default().push(*id);
        }
        if known.is_empty() {
            ready.push(Reverse((commit.committed, *id)));
        } else {
            waiting_on.insert(*id, known.len());
        }
    }
    let mut out = Vec::with_capacity(parsed.len());
    while let Some(Reverse((_, id))) = ready.pop() {
        for child in children.remove(&id).unwrap_or_default() {
            let left = waiting_on.entry(child).or_default();
            *left -= 1;
            if *left == 0 {
                ready.push(Reverse((parsed[&child].committed, child)));
            }
        }
        if let Some(commit) = parsed.remove(&id) {
            out.push(CommitNode {
                id,
                tree: commit.tree,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testrepo::TestRepo;

    #[test]
    fn every_branch_and_tag_is_read_parents_first() {
        let repo = TestRepo::new();
        let first = repo.commit_file("a.txt", "one\n", "first");
        repo.git(&["checkout", "-q", "-b", "side"]);
        let side = repo.commit_file("b.txt", "two\n", "on a side branch");
        repo.git(&["checkout", "-q", "main"]);
        let second = repo.commit_file("a.txt", "three\n", "second");
        repo.git(&["tag", "-a", "-m", "a release", "v1", &side]);
        repo.git(&["branch", "-D", "side"]);
        let ids: Vec<String> = in_order(&repo.open())
            .unwrap()
            .iter()
            .map(|c| c.id.to_string())
            .collect();
        // The side commit is reached only through the annotated tag.
        assert_eq!(ids, [first, side, second]);
    }

    #[test]
    fn an_empty_repository_has_no_commits() {
        let repo = TestRepo::new();
        assert!(in_order(&repo.open()).unwrap().is_empty());
    }
}
