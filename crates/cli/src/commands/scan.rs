//! `secrethub scan`: hard-coded secrets in files (the `secrethub-scan` crate), reported as
//! text, JSON or SARIF. Local only, no server. It has its own flags (`-format` takes
//! `sarif`, which no other command knows), so `main_with` hands it its arguments before the
//! main parser sees them.
//!
//! `--git` scans a repository's whole history instead (every commit of every branch and tag,
//! each finding with the commit that brought it in), `--staged` only what the next commit
//! would add (a pre-commit hook); both read the repository in process (`secrethub-scan-git`).
//!
//! Exit codes, as gitleaks and pre-commit hooks expect: 0 nothing found, 1 findings, 2 the
//! scan itself failed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use secrethub_scan::{render, Baseline, ReportFormat, RuleSet, TreeReport, WalkOptions};

use crate::output;

/// Find hard-coded secrets in files: secrethub scan [--git | --staged] [PATH...] |
/// secrethub scan rules check|list
#[derive(Parser)]
#[command(name = "secrethub scan")]
struct ScanArgs {
    /// Report format: text, json or sarif
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    format: ReportFormat,
    /// Leave out paths matching this pattern (repeatable; gitignore-like, as in a
    /// .secrethubignore file at the scanned root, which is read too)
    #[arg(long, value_name = "GLOB")]
    ignore: Vec<String>,
    /// Accept the findings of this earlier JSON report (same file, same value)
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Scan the git history of the repository holding each PATH: every commit of every
    /// branch and tag, each finding with the commit that brought it in
    #[arg(long, conflicts_with = "staged")]
    git: bool,
    /// Scan only what is staged for the next commit in the repository holding each PATH,
    /// reporting only what the commit would add (for a pre-commit hook)
    #[arg(long)]
    staged: bool,
    /// Skip files larger than this many bytes
    #[arg(long = "max-file-size", default_value_t = 10 * 1024 * 1024, value_name = "BYTES")]
    max_file_size: u64,
    /// Files or directories to scan (default: the current directory)
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// Runs `secrethub scan` with the arguments after `scan`; answers the exit code.
pub(crate) fn main(args: &[OsString]) -> u8 {
    let rules = match RuleSet::builtin() {
        Ok(r) => r,
        Err(e) => {
            output::err(&format!("Error loading the scan rules: {e}"));
            return 2;
        }
    };
    if args.first().is_some_and(|a| a == "rules") {
        return rules_command(&rules, &args[1..]);
    }
    let parsed = std::iter::once(OsString::from("secrethub scan")).chain(args.iter().cloned());
    let cli = match ScanArgs::try_parse_from(parsed) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { 2 } else { 0 };
        }
    };
    let baseline = match cli.baseline.as_deref().map(Baseline::load).transpose() {
        Ok(b) => b.unwrap_or_default(),
        Err(e) => {
            output::err(&format!("Error: {e}"));
            return 2;
        }
    };
    let options = WalkOptions {
        max_file_bytes: cli.max_file_size,
        threads: 0,
        ignore: cli.ignore,
    };
    let started = Instant::now();
    let scanned = if cli.git {
        scan_history_all(&rules, &cli.paths, &options)
    } else if cli.staged {
        scan_staged_all(&rules, &cli.paths, &options).map(|r| {
            let what = format!("{} staged files", r.files_scanned);
            (r, what)
        })
    } else {
        scan_all(&rules, &cli.paths, &options).map(|r| {
            let what = format!("{} files", r.files_scanned);
            (r, what)
        })
    };
    let (mut total, what) = match scanned {
        Ok(r) => r,
        Err(e) => {
            output::err(&e);
            return 2;
        }
    };
    let before = total.findings.len();
    total.findings.retain(|f| !baseline.accepts(f));
    let accepted = before - total.findings.len();
    let text = render(cli.format, &rules, &total);
    if !text.is_empty() {
        output::out(text.trim_end_matches('\n'));
    }
    output::err(&format!(
        "scanned {what} ({:.1} MiB) in {:.2} s, skipped {}: {} finding{}{}",
        total.bytes_scanned as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64(),
        total.files_skipped,
        total.findings.len(),
        if total.findings.len() == 1 { "" } else { "s" },
        if accepted > 0 {
            format!(" ({accepted} more accepted by the baseline)")
        } else {
            String::new()
        },
    ));
    u8::from(!total.findings.is_empty())
}

/// `scan rules list` prints the rules; `scan rules check` runs every rule's examples.
fn rules_command(rules: &RuleSet, args: &[OsString]) -> u8 {
    match args.first().and_then(|a| a.to_str()) {
        Some("list") => {
            for r in rules.rules() {
                output::out(&format!(
                    "{:<28} {:<24} {}",
                    r.id,
                    r.secret_type.as_str(),
                    r.description
                ));
            }
            0
        }
        Some("check") => {
            let failures = rules.check_examples();
            for f in &failures {
                let expected = if f.should_match { "match" } else { "not match" };
                output::err(&format!(
                    "rule {}: example should {expected}: {:?}",
                    f.rule, f.example
                ));
            }
            let examples: usize = rules.rules().iter().map(|r| r.example_count()).sum();
            output::out(&format!(
                "{} rules, {examples} examples, {} failing",
                rules.rules().len(),
                failures.len()
            ));
            u8::from(!failures.is_empty())
        }
        _ => {
            output::err("Usage: secrethub scan rules check|list");
            2
        }
    }
}

/// Runs `scan` on every path (the current directory when none is given), into one report.
fn each_path(
    paths: &[PathBuf],
    mut scan: impl FnMut(&Path) -> Result<TreeReport, String>,
) -> Result<TreeReport, String> {
    let here = [PathBuf::from(".")];
    let paths = if paths.is_empty() { &here[..] } else { paths };
    let mut total = TreeReport::default();
    for path in paths {
        let report = scan(path)?;
        total.findings.extend(report.findings);
        total.files_scanned += report.files_scanned;
        total.files_skipped += report.files_skipped;
        total.bytes_scanned += report.bytes_scanned;
    }
    Ok(total)
}

/// Scans every path (the current directory when none is given) into one report.
pub(crate) fn scan_all(
    rules: &RuleSet,
    paths: &[PathBuf],
    options: &WalkOptions,
) -> Result<TreeReport, String> {
    each_path(paths, |path| {
        rules
            .scan_tree(path, options)
            .map_err(|e| format!("Error scanning {}: {e}", path.display()))
    })
}

/// `--git`: the history of the repository holding each path, into one report; answers it
/// with what was read (`N commits, M file contents`).
fn scan_history_all(
    rules: &RuleSet,
    paths: &[PathBuf],
    options: &WalkOptions,
) -> Result<(TreeReport, String), String> {
    let mut commits = 0;
    let total = each_path(paths, |path| {
        let history = secrethub_scan_git::scan_history(rules, path, options)
            .map_err(|e| format!("Error scanning the history of {}: {e}", path.display()))?;
        commits += history.commits;
        Ok(history.report)
    })?;
    let what = format!("{commits} commits, {} file contents", total.files_scanned);
    Ok((total, what))
}

/// The files under `root`, plus what its repository's history alone still holds: the
/// findings of a history scan whose value is in no file of HEAD nor of the tree (`advise
/// --git`, for an inventory of every secret a clone carries).
pub(crate) fn scan_tree_and_history(
    rules: &RuleSet,
    root: &Path,
    options: &WalkOptions,
) -> Result<TreeReport, String> {
    let paths = [root.to_path_buf()];
    let mut total = scan_all(rules, &paths, options)?;
    let (history, _) = scan_history_all(rules, &paths, options)?;
    let in_tree: std::collections::HashSet<String> = total
        .findings
        .iter()
        .map(|f| f.fingerprint.clone())
        .collect();
    total
        .findings
        .extend(history.findings.into_iter().filter(|f| {
            f.origin.as_ref().is_some_and(|o| o.history_only) && !in_tree.contains(&f.fingerprint)
        }));
    Ok(total)
}

/// `--staged`: what is staged in the repository holding each path, into one report.
fn scan_staged_all(
    rules: &RuleSet,
    paths: &[PathBuf],
    options: &WalkOptions,
) -> Result<TreeReport, String> {
    each_path(paths, |path| {
        secrethub_scan_git::scan_staged(rules, path, options)
            .map_err(|e| format!("Error scanning what is staged in {}: {e}", path.display()))
    })
}
