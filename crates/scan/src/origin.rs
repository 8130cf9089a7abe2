//! Where in a repository's history a finding was first committed (`secrethub scan --git`):
//! the commit, its author and date, and whether the value is still in the repository's
//! current files or lives on in its history only.

use serde::Serialize;

/// The commit that first brought a secret into a file. Its fields are written beside the
/// finding's own in JSON (`commit`, `author`, `email`, `date`, `history_only`), as gitleaks
/// names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GitOrigin {
    /// The commit's full hex id.
    pub commit: String,
    /// Its author's name.
    pub author: String,
    /// Its author's email.
    pub email: String,
    /// When it was authored, RFC 3339 in UTC.
    pub date: String,
    /// Whether the value is in no file of HEAD any more: removed from the files, still in
    /// the history every clone carries.
    pub history_only: bool,
}

impl GitOrigin {
    /// The commit id's first 12 characters, as people quote it.
    pub fn short_commit(&self) -> &str {
        &self.commit[..self.commit.len().min(12)]
    }
}
