//! Scanning a working tree: which files are read (not binary, not vendored, not lock files,
//! not too large), each read once, spread over the machine's cores.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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
            if !SKIPPED_DIRS.contains(&name.as_ref()) {
                collect(&entry.path(), &path, ignore, out)?;
            }
        } else if kind.is_file() && !LOCK_FILES.contains(&name.as_ref()) {
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
    let bytes = std::fs::read(path).ok()?;
    if bytes[..bytes.len().min(BINARY_SNIFF)].contains(&0) {
        return None;
    }
    Some(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
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
        let threads = match options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
        .min(files.len().max(1));
        let next = AtomicUsize::new(0);
        let report = Mutex::new(TreeReport::default());
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut local = TreeReport::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(i) else { break };
                        match read_text(path, options.max_file_bytes) {
                            Some(text) => {
                                local.files_scanned += 1;
                                local.bytes_scanned += text.len() as u64;
                                let name = shown(root, path);
                                local.findings.extend(shapes::scan_file(self, &name, &text));
                            }
                            None => local.files_skipped += 1,
                        }
                    }
                    let mut all = report.lock().unwrap_or_else(|e| e.into_inner());
                    all.files_scanned += local.files_scanned;
                    all.bytes_scanned += local.bytes_scanned;
                    all.files_skipped += local.files_skipped;
                    all.findings.extend(local.findings);
                });
            }
        });
        let mut report = report.into_inner().unwrap_or_else(|e| e.into_inner());
        report
            .findings
            .sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
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
}
