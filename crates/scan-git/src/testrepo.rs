//! Real repositories for the tests, made with the `git` program in a temporary directory
//! (the scanner never runs it). Each commit is dated a minute after the one before, and no
//! user or system git configuration is read, so the tests see the same history everywhere.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A GitHub token shape the built-in rules find; `n` makes a distinct value per test.
pub(crate) fn token(n: usize) -> String {
    let body = "R8kT2vLq9wXz4mNp7sYb3cHf6jUa1eGi0oVt";
    let n = n % body.len();
    format!("ghp_{}{}", &body[n..], &body[..n])
}

/// A repository on disk, on branch `main`, removed when dropped.
pub(crate) struct TestRepo {
    dir: tempfile::TempDir,
    clock: Cell<i64>,
}

impl TestRepo {
    /// An empty repository (no commit yet).
    pub(crate) fn new() -> TestRepo {
        let repo = TestRepo {
            dir: tempfile::tempdir().expect("a temporary directory"),
            clock: Cell::new(1_700_000_000),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// The working tree's root.
    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The repository as the scanner opens it.
    pub(crate) fn open(&self) -> gix::Repository {
        gix::open(self.root()).expect("the test repository opens")
    }

    /// Runs `git` in the working tree; answers its trimmed standard output.
    pub(crate) fn git(&self, args: &[&str]) -> String {
        let date = format!("@{} +0000", self.clock.get());
        let out = Command::new("git")
            .args(args)
            .current_dir(self.root())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ada Lovelace")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada Lovelace")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Writes `text` into the working tree at `rel`.
    pub(crate) fn write(&self, rel: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().expect("a file has a parent")).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Commits what is staged, a minute after the last commit; answers the commit's id.
    pub(crate) fn commit(&self, message: &str) -> String {
        self.clock.set(self.clock.get() + 60);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Writes, stages and commits one file; answers the commit's id.
    pub(crate) fn commit_file(&self, rel: &str, text: &str, message: &str) -> String {
        self.write(rel, text);
        self.git(&["add", rel]);
        self.commit(message)
    }
}
