//! Scanning a working tree: which files are read (not binary, not vendored, not lock files,
//! not too large), each read once, spread over the machine's cores.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::filter::PathFilter;
use crate::rules::RuleSet;
use crate::scan::Finding;
use crate::shapes;

/// Directories never entered: version control, dependencies others wrote, build output.
const SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "vendor",
    "bower_components",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    "target",
    ".terraform",
];

/// Files whose content is hashes and versions, never secrets.
const LOCK_FILES: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "Cargo.lock",
    "poetry.lock",
    "Pipfile.lock",
    "go.sum",
    "Gemfile.lock",
    "composer.lock",
    "packages.lock.json",
    ".terraform.lock.hcl",
];

/// How many leading bytes decide whether a file is binary (a NUL byte among them).
const BINARY_SNIFF: usize = 8000;

/// What to read.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Files larger than this are skipped (and counted).
    pub max_file_bytes: u64,
    /// Threads reading and scanning; 0 = one per core.
    pub threads: usize,
    /// Ignore patterns (`--ignore`), besides the root's `.secrethubignore`.
    pub ignore: Vec<String>,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            max_file_bytes: 10 * 1024 * 1024,
            threads: 0,
            ignore: Vec::new(),
        }
    }
}

/// What a scan of a tree found and read.
#[derive(Debug, Default)]
pub struct TreeReport {
    /// Every finding, ordered by path and position.
    pub findings: Vec<Finding>,
    /// Files read and scanned.
    pub files_scanned: usize,
    /// Bytes read and scanned.
    pub bytes_scanned: u64,
    /// Files skipped: binary, too large or unreadable.
    pub files_skipped: usize,
}

impl TreeReport {
    /// Counts one file as scanned (with its size in bytes) or, for `None`, skipped; answers
    /// its findings, for the caller to keep or filter.
    pub fn tally(&mut self, outcome: Option<(u64, Vec<Finding>)>) -> Vec<Finding> {
        match outcome {
            Some((bytes, found)) => {
                self.files_scanned += 1;
                self.bytes_scanned += bytes;
                found
            }
            None => {
                self.files_skipped += 1;
                Vec::new()
            }
        }
    }

    /// Orders the findings by path, line and column.
    pub fn sort_by_place(&mut self) {
        self.findings
            .sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    }
}

/// Collects the files under `dir` worth reading; `relative` is `dir`'s path from the
/// scanned root (`/`-separated, empty for the root), which the ignore patterns see.
pub(crate) fn collect(
    dir: &Path,
    relative: &str,
    ignore: &PathFilter,
    out: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = if relative.is_empty() {
            name.to_string()
        } else {
            format!("{relative}/{name}")
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if ignore.ignores(&path) {
            continue;
        }
        if kind.is_dir() {
            if !is_skipped_dir(&name) {
                collect(&entry.path(), &path, ignore, out)?;
            }
        } else if kind.is_file() && !is_skipped_file(&name) {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// The file's text, or `None` when it is to be skipped (binary, too large, unreadable).
fn read_text(path: &Path, limit: u64) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > limit {
        return None;
    }
    text_of(std::fs::read(path).ok()?)
}

/// Whether a directory of this name is never entered (`.git`, `node_modules`, `target`, …).
pub fn is_skipped_dir(name: &str) -> bool {
    SKIPPED_DIRS.contains(&name)
}

/// Whether a file of this name is never read (lock files: hashes and versions).
pub fn is_skipped_file(name: &str) -> bool {
    LOCK_FILES.contains(&name)
}

/// Whether a `/`-separated relative path is never read: a lock file, or under a skipped
/// directory. For paths that come whole (a git index) rather than from a walk.
pub fn is_skipped_path(path: &str) -> bool {
    let mut parts = path.rsplit('/');
    let name = parts.next().unwrap_or(path);
    is_skipped_file(name) || parts.any(is_skipped_dir)
}

/// A file's content as text, or `None` when it is binary (a NUL byte among its first bytes).
/// Invalid UTF-8 is replaced, so a Latin-1 file is still scanned.
pub fn text_of(bytes: Vec<u8>) -> Option<String> {
    if bytes[..bytes.len().min(BINARY_SNIFF)].contains(&0) {
        return None;
    }
    Some(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Runs `work` on every item over `threads` threads (0: one per core; never more than there
/// are items), each thread with its own state made by `init` (a repository handle, say), and
/// answers the results in the items' order.
pub fn parallel_map<T, S, R>(
    items: &[T],
    threads: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R>
where
    T: Sync,
    R: Send,
{
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(items.len().max(1));
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut state = init();
                    let mut local = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        local.push((i, work(&mut state, item)));
                    }
                    local
                })
            })
            .collect();
        workers
            .into_iter()
            // A worker that panicked passes its panic on, as one thread would have.
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// The path as findings name it: relative to `root` when under it.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .ok()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

impl RuleSet {
    /// Every finding of one file's text, its shape understood (a Kubernetes `Secret`'s
    /// base64 `data`, a YAML finding's key path); `path` names the file in findings.
    pub fn scan_file(&self, path: &str, text: &str) -> Vec<Finding> {
        shapes::scan_file(self, path, text)
    }

    /// Scans every file under `root` (see the module docs).
    pub fn scan_tree(&self, root: &Path, options: &WalkOptions) -> std::io::Result<TreeReport> {
        let mut files = Vec::new();
        // A file given directly is always read; a directory is walked.
        if std::fs::metadata(root)?.is_dir() {
            let ignore = PathFilter::for_root(root, &options.ignore)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            collect(root, "", &ignore, &mut files)?;
        } else {
            files.push(root.to_path_buf());
        }
        let scanned = parallel_map(
            &files,
            options.threads,
            || (),
            |(), path| {
                let text = read_text(path, options.max_file_bytes)?;
                Some((text.len() as u64, self.scan_file(&shown(root, path), &text)))
            },
        );
        let mut report = TreeReport::default();
        for outcome in scanned {
            let found = report.tally(outcome);
            report.findings.extend(found);
        }
        report.sort_by_place();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_vendored_binary_and_lock_files_and_names_paths_relative() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let token = "GITHUB_TOKEN=ghp_R8kT2vLq9wXz4mNp7sYb3cHf6jUa1eGi0oVt\n";
        std::fs::create_dir_all(root.join("src/conf")).unwrap();
        std::fs::create_dir_all(root.join("node_modules/pkg")).unwrap();
        std::fs::write(root.join("src/conf/ci.env"), token).unwrap();
        std::fs::write(root.join("node_modules/pkg/x.env"), token).unwrap();
        std::fs::write(root.join("package-lock.json"), token).unwrap();
        let mut binary = token.as_bytes().to_vec();
        binary.insert(0, 0);
        std::fs::write(root.join("blob.bin"), binary).unwrap();

        let rules = RuleSet::builtin().unwrap();
        let report = rules.scan_tree(root, &WalkOptions::default()).unwrap();
        let paths: Vec<&str> = report.findings.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["src/conf/ci.env"]);
        assert_eq!((report.files_scanned, report.files_skipped), (1, 1));
    }

    #[test]
    fn a_whole_path_is_skipped_by_its_directories_and_its_name() {
        for (path, skipped) in [
            ("Cargo.lock", true),
            ("web/node_modules/pkg/x.env", true),
            ("a/.git/config", true),
            ("src/conf/ci.env", false),
            ("vendored/x.env", false),
        ] {
            assert_eq!(is_skipped_path(path), skipped, "{path}");
        }
    }

    #[test]
    fn parallel_map_answers_in_the_items_order_with_a_state_per_thread() {
        let items: Vec<usize> = (0..1000).collect();
        let out = parallel_map(&items, 2, Vec::new, |seen: &mut Vec<usize>, &i| {
            seen.push(i);
            i * 2
        });
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(parallel_map(&[] as &[usize], 0, || (), |(), &i| i).is_empty());
    }
}
