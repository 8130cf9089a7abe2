//! `secrethub scan --git` and `secrethub scan --staged`: the secret scanner
//! (`secrethub-scan`) over a git repository's history and over what is about to be
//! committed. The repository is read with gix, in process; no `git` program is run.
//!
//! History ([`scan_history`]): every commit reachable from any reference or HEAD (what
//! `git log --all` lists, as gitleaks reads by default), parents before children. Each
//! commit's tree is walked, but a directory already walked at the same path with the same
//! content is not walked again, and each file content (blob) is scanned once, at the first
//! commit and path where it appears, so a long history costs about what its distinct
//! contents cost. A secret is reported once per file path, with the commit that first
//! brought it in (`commits.rs`, `history.rs`). The working tree walk's rules apply:
//! skipped directories and lock files, binary contents, the size limit, ignore patterns.
//!
//! Staged ([`scan_staged`]): every index entry whose content differs from HEAD's at its
//! path is scanned, and only what the commit would add is reported: a value already in
//! HEAD's version of the file, or in a file the commit removes or renames, is not
//! (`staged.rs`).
//!
//! Tests build real repositories with the `git` program (`testrepo.rs`); the scanner itself
//! never runs it.

mod blob;
mod commits;
mod history;
mod staged;
#[cfg(test)]
mod testrepo;

use std::path::{Path, PathBuf};

use secrethub_scan::{PathFilter, WalkOptions};

pub use history::{scan_history, HistoryReport};
pub use staged::scan_staged;

/// Why a repository could not be scanned.
#[derive(Debug, thiserror::Error)]
pub enum GitScanError {
    /// No repository at or above the path.
    #[error("{} is not in a git repository: {source}", path.display())]
    NotARepository {
        /// Where the repository was looked for.
        path: PathBuf,
        /// What gix answered.
        #[source]
        source: Box<gix::discover::Error>,
    },
    /// An object, reference or the index could not be read.
    #[error("reading {what}: {source}")]
    Read {
        /// What was being read (`HEAD`, `the index`, `commit <id>`, …).
        what: String,
        /// What gix answered.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The ignore patterns do not compile.
    #[error("{0}")]
    Ignore(String),
}

impl GitScanError {
    fn read(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        GitScanError::Read {
            what: what.into(),
            source: Box::new(source),
        }
    }
}

/// The repository holding `dir` (it or a parent directory, as `git` itself finds it), and
/// the ignore patterns given plus those of its working tree's `.secrethubignore`.
fn open(dir: &Path, options: &WalkOptions) -> Result<(gix::Repository, PathFilter), GitScanError> {
    let repo = gix::discover(dir).map_err(|e| GitScanError::NotARepository {
        path: dir.to_path_buf(),
        source: Box::new(e),
    })?;
    let ignore = match repo.workdir() {
        Some(root) => PathFilter::for_root(root, &options.ignore),
        None => PathFilter::new(options.ignore.iter().map(String::as_str)),
    }
    .map_err(GitScanError::Ignore)?;
    Ok((repo, ignore))
}
