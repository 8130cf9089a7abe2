//! Vault spells long flags with one dash (`-field=password`, `-key-shares 5`); clap wants two.
//! [`normalize`] rewrites such arguments before clap sees them, so both spellings work.

use std::ffi::OsString;

/// Rewrites `-name` and `-name=value` into `--name...` when `name` looks like a long flag
/// (`[a-z][a-z0-9_-]+`, so two characters or more). Short flags (`-f`), negative numbers
/// (`-1`), a lone `-` (stdin) and everything after a bare `--` are left alone. The first
/// element is the program name and is never touched.
pub(crate) fn normalize<I>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = OsString>,
{
    let mut out = Vec::new();
    let mut rewriting = true;
    for (index, arg) in args.into_iter().enumerate() {
        if index == 0 || !rewriting {
            out.push(arg);
            continue;
        }
        if arg == "--" {
            rewriting = false;
            out.push(arg);
            continue;
        }
        match arg.to_str().and_then(rewrite) {
            Some(long) => out.push(OsString::from(long)),
            None => out.push(arg),
        }
    }
    out
}

/// `Some("--name[=value]")` when `arg` is a single-dash long flag, `None` otherwise.
fn rewrite(arg: &str) -> Option<String> {
    let rest = arg.strip_prefix('-')?;
    if rest.starts_with('-') {
        return None;
    }
    let name = rest.split_once('=').map_or(rest, |(name, _)| name);
    let mut chars = name.chars();
    let first = chars.next()?;
    let tail_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if first.is_ascii_lowercase() && name.len() > 1 && tail_ok {
        Some(format!("-{arg}"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        let os = std::iter::once("secrethub")
            .chain(args.iter().copied())
            .map(OsString::from);
        normalize(os)
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().expect("test arguments are UTF-8"))
            .collect()
    }

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        assert_eq!(
            norm(&["kv", "get", "-field=password", "-format=json", "secret/app"]),
            [
                "kv",
                "get",
                "--field=password",
                "--format=json",
                "secret/app"
            ]
        );
        assert_eq!(
            norm(&["operator", "init", "-key-shares", "5", "-key-threshold=3"]),
            ["operator", "init", "--key-shares", "5", "--key-threshold=3"]
        );
        assert_eq!(
            norm(&["-address=http://h:1", "status"]),
            ["--address=http://h:1", "status"]
        );
        assert_eq!(
            norm(&["token", "create", "-no_default"]),
            ["token", "create", "--no_default"]
        );
    }

    #[test]
    fn short_flags_numbers_and_values_stay() {
        assert_eq!(norm(&["write", "-f", "x"]), ["write", "-f", "x"]);
        assert_eq!(norm(&["write", "x", "-"]), ["write", "x", "-"]);
        assert_eq!(
            norm(&["kv", "get", "-version", "-1"]),
            ["kv", "get", "--version", "-1"]
        );
        assert_eq!(norm(&["--format", "json"]), ["--format", "json"]);
        assert_eq!(
            norm(&["write", "x", "a=-b", "k=v"]),
            ["write", "x", "a=-b", "k=v"]
        );
        // Upper case or odd characters are not flag names.
        assert_eq!(
            norm(&["-Field=x", "-a.b", "-x!"]),
            ["-Field=x", "-a.b", "-x!"]
        );
        // Only the name before `=` has to look like a flag; the value is free.
        assert_eq!(norm(&["-metadata=Team=Ops A"]), ["--metadata=Team=Ops A"]);
    }

    #[test]
    fn bare_double_dash_stops_rewriting() {
        assert_eq!(
            norm(&["write", "-force", "--", "-notaflag", "-x=1"]),
            ["write", "--force", "--", "-notaflag", "-x=1"]
        );
    }

    #[test]
    fn program_name_and_non_utf8_are_untouched() {
        let out = normalize([OsString::from("-program"), OsString::from("-dev")]);
        assert_eq!(out, [OsString::from("-program"), OsString::from("--dev")]);
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            let odd = OsString::from_vec(vec![b'-', b'a', 0xff]);
            assert_eq!(
                normalize([OsString::from("p"), odd.clone()]),
                [OsString::from("p"), odd]
            );
        }
    }
}
