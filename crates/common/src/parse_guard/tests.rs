//! Unit tests of the pre-parse guard: every nesting shape that makes hcl-edit recurse is
//! counted, and what the parser reads as text (strings, comments, heredoc bodies) is not.

use super::scan::INDEX_LEVELS;
use super::{check, ParseLimitError, ParseLimits, MAX_NESTING_DEPTH};

/// The depth the scan gives `text`: the smallest limit it passes.
fn depth(text: &str) -> usize {
    (0..=1000)
        .find(|&max_depth| {
            let limits = ParseLimits {
                max_bytes: usize::MAX,
                max_depth,
            };
            check(text, limits).is_ok()
        })
        .expect("deeper than 1000")
}

/// The nine shapes of the hardening issue, plus directives and blocks, `n` levels deep, as
/// the value of an attribute.
fn shape(name: &str, n: usize) -> String {
    match name {
        "bracket" => format!("a = {}1{}", "[".repeat(n), "]".repeat(n)),
        "object" => format!("a = {}1{}", "{a=".repeat(n), "}".repeat(n)),
        "call" => format!("a = {}1{}", "f(".repeat(n), ")".repeat(n)),
        "paren" => format!("a = {}1{}", "(".repeat(n), ")".repeat(n)),
        "interpolation" => format!("a = {}1{}", "\"${".repeat(n), "}\"".repeat(n)),
        "neg" => format!("a = {}1", "-".repeat(n)),
        "not" => format!("a = {}true", "!".repeat(n)),
        "plus" => format!("a = 1{}", "+1".repeat(n)),
        "conditional" => format!("a = {}1", "true ? 1 : ".repeat(n)),
        "directive" => format!(
            "a = \"{}x{}\"",
            "%{ if true }".repeat(n - 1),
            "%{ endif }".repeat(n - 1)
        ),
        "block" => format!("{}{}", "b {\n".repeat(n), "}\n".repeat(n)),
        _ => unreachable!("unknown shape {name}"),
    }
}

fn assert_shape(name: &str) {
    let limit = MAX_NESTING_DEPTH;
    assert_eq!(depth(&shape(name, 5)), 5, "{name}");
    assert_eq!(
        check(&shape(name, limit), ParseLimits::POLICY),
        Ok(()),
        "{name}"
    );
    for n in [limit + 1, 400] {
        let err = check(&shape(name, n), ParseLimits::POLICY).unwrap_err();
        assert!(
            matches!(err, ParseLimitError::TooDeep { limit: 32, .. }),
            "{name} at {n}: {err:?}"
        );
    }
}

#[test]
fn brackets() {
    assert_shape("bracket");
}

#[test]
fn objects() {
    assert_shape("object");
}

#[test]
fn function_calls() {
    assert_shape("call");
}

#[test]
fn parentheses() {
    assert_shape("paren");
}

#[test]
fn interpolations() {
    assert_shape("interpolation");
}

#[test]
fn unary_minus() {
    assert_shape("neg");
}

#[test]
fn unary_not() {
    assert_shape("not");
}

#[test]
fn binary_chains() {
    assert_shape("plus");
    assert_eq!(
        depth("a = 1 * 2 / 3 % 4 - 5 == 6 != 7 < 8 <= 9 > 1 >= 2 && 3 || 4"),
        12
    );
}

#[test]
fn conditional_chains() {
    assert_shape("conditional");
    // The true branch nests as well as the false one.
    assert_eq!(depth("a = x ? y ? z ? 1 : 2 : 3 : 4"), 3);
}

#[test]
fn template_directives() {
    assert_shape("directive");
    assert_eq!(
        depth("a = \"%{ for x in y }%{~ if x ~}a%{ endif }%{ endfor }\""),
        3
    );
}

#[test]
fn blocks() {
    assert_shape("block");
}

#[test]
fn the_issue_example_is_refused() {
    let text = format!(
        "path \"x\" {{ capabilities = {}{} }}",
        "[".repeat(400),
        "]".repeat(400)
    );
    let err = check(&text, ParseLimits::POLICY).unwrap_err();
    assert_eq!(err.to_string(), "nested too deeply (limit 32)");
    assert_eq!(err.line(), Some(1));
    assert_eq!(
        format!("policy is {err}"),
        "policy is nested too deeply (limit 32)"
    );
}

#[test]
fn traversal_indexes_weigh_more() {
    assert_eq!(depth("a = [1]"), 1);
    assert_eq!(depth("a = f([1], [2])"), 2);
    for index in [
        "a = b[1]",
        "a = b.c[1]",
        "a = b[0] [1]",
        "a = \"x\"[0]",
        "a = b\n[1]",
    ] {
        assert_eq!(depth(index), INDEX_LEVELS, "{index}");
    }
    assert_eq!(depth("a = b[0][1]"), INDEX_LEVELS);
    assert_eq!(depth("a = b.c[b.c[1]]"), 2 * INDEX_LEVELS);
    assert_eq!(depth("a = (b)[[1]]"), INDEX_LEVELS + 1);
}

/// Found by the `server_hcl` fuzz target: hcl-edit parses a failing index twice per level, so
/// this took 4 s at 20 levels (and doubles with each one) before indexes weighed more.
#[test]
fn nested_failing_indexes_are_refused() {
    let levels = MAX_NESTING_DEPTH / INDEX_LEVELS;
    assert!(levels <= 5);
    let shape = |n: usize| format!("a = {}c&d]", "b.c[".repeat(n));
    assert_eq!(check(&shape(levels), ParseLimits::POLICY), Ok(()));
    let err = check(&shape(levels + 1), ParseLimits::POLICY).unwrap_err();
    assert!(
        matches!(err, ParseLimitError::TooDeep { limit: 32, .. }),
        "{err:?}"
    );
    let policy = format!("path \"x\" {{ capabilities = {} }}", shape(20));
    assert!(check(&policy, ParseLimits::POLICY).is_err());
}

#[test]
fn size_is_bounded() {
    let text = format!("# {}", "x".repeat(128 * 1024));
    let err = check(&text, ParseLimits::POLICY).unwrap_err();
    assert_eq!(err.to_string(), "too large (131074 bytes, limit 131072)");
    assert_eq!(err.line(), None);
    assert_eq!(check(&text[..128 * 1024], ParseLimits::POLICY), Ok(()));
}

#[test]
fn realistic_policies_are_shallow() {
    let hcl = r#"
# Read-only access to the app's secrets.
path "secret/data/app/*" {
  capabilities = ["read", "list"]
  allowed_parameters = {
    "version" = []
    "*" = []
  }
  min_wrapping_ttl = "1s"
  max_wrapping_ttl = "90s"
}
path "auth/token/lookup-self" { capabilities = ["read"] }
path "secret/data/{{identity.entity.id}}/*" { capabilities = ["create", "update"] }
"#;
    assert_eq!(depth(hcl), 3);
    let json = r#"{"path": {"secret/*": {"capabilities": ["read"], "allowed_parameters": {"k": ["v", -1]}}}}"#;
    assert_eq!(depth(json), 6);
}

#[test]
fn text_is_not_nesting() {
    let deep = "[".repeat(100);
    for text in [
        format!("a = \"{deep}\""),
        format!("a = \"\\\"{deep}\""),
        format!("# {deep}\na = 1"),
        format!("// {deep}\na = 1"),
        format!("/* {deep}\n{deep} */ a = 1"),
        format!("a = \"$${{{deep}\""),
        format!("a = \"%%{{{deep}\""),
        format!("a = <<EOF\n{deep} \" # \\\nEOF\n"),
        format!("path \"secret/{deep}\" {{ capabilities = [\"read\"] }}"),
        "a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q-r-s-t-u-v-w-x-y-z-1-2-3-4-5-6-7-8 = 1e-5".to_owned(),
    ] {
        assert!(depth(&text) <= 2, "{text}");
    }
}

#[test]
fn newlines_end_expressions_only_where_the_parser_ends_them() {
    // Forty attributes with an operator each: every newline ends an expression.
    let many = "a = -1\n".repeat(40);
    assert_eq!(depth(&many), 1);
    let commas = format!("a = [{}]", "-1, ".repeat(40));
    assert_eq!(depth(&commas), 2);
    // Inside brackets newlines never end an expression.
    let in_brackets = format!("a = [1{}]", "\n+1".repeat(40));
    assert_eq!(depth(&in_brackets), 41);
    // After an array or a call the parser lets an expression go on past newlines.
    let after_array = format!("a = [1]{}", "\n+1".repeat(40));
    assert_eq!(depth(&after_array), 40);
    let after_call = format!("b {{\na = f(1){}\n}}", "\n  - 1".repeat(40));
    assert_eq!(depth(&after_call), 41);
    let conditional = format!("a = [1] ? 1\n: 1{}", "\n+1".repeat(40));
    assert_eq!(depth(&conditional), 41);
    // ... but a new attribute on the next line ends it.
    assert_eq!(depth("a = [1]\nb = -1\nc = -1\nd = -1"), 1);
    // A `for` object's condition may span lines.
    let for_object = format!("a = {{for k, v in m : k => v if 1{}}}", "\n+1".repeat(40));
    assert_eq!(depth(&for_object), 42);
}

#[test]
fn heredoc_templates_count_interpolations() {
    let n = 40;
    let text = format!("a = <<EOF\n{}1{}\nEOF\n", "${".repeat(n), "}".repeat(n));
    assert_eq!(depth(&text), n);
    let indented = format!(
        "a = <<-EOT\n  x ${{{}1{}}}\n  EOT\nb = 1\n",
        "[".repeat(n),
        "]".repeat(n)
    );
    assert_eq!(depth(&indented), n + 1);
    // Text after the delimiter line is expression text again.
    let after = format!(
        "a = <<EOF\nx\nEOF\nb = {}1{}\n",
        "(".repeat(n),
        ")".repeat(n)
    );
    assert_eq!(depth(&after), n);
}

#[test]
fn directive_bodies_are_plain_templates() {
    // Inside `%{ if }` a quote and a `#` are literal text, so the `${` after them opens an
    // interpolation.
    let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
    let text = format!("a = \"%{{ if true }}\" # ${{{deep}}} %{{ endif }}\"");
    assert_eq!(depth(&text), 42);
    let heredoc = format!("a = <<EOF\n%{{ if true }}\nEOF\n# ${{{deep}}}\n%{{ endif }}\nEOF\n");
    assert_eq!(depth(&heredoc), 42);
}

#[test]
fn empty_looking_heredocs_are_read_both_ways() {
    let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
    // No later delimiter line: the parser falls back to an empty heredoc, and the rest is
    // expression text.
    let empty = format!("a = <<EOF\nEOF\nb = {deep}\n");
    assert!(depth(&empty) >= 40);
    // A later delimiter line: the first one is heredoc text, and so is the bracket line.
    let long = format!("a = <<EOF\nEOF\n# ${{{deep}}}\nEOF\n");
    assert!(depth(&long) >= 41);
    // Many fallbacks cost a level each, so the rescans stay bounded.
    let many =
        |n: usize| -> String { (0..n).map(|i| format!("a{i} = <<D{i}X\nD{i}X\n")).collect() };
    assert_eq!(check(&many(3), ParseLimits::POLICY), Ok(()));
    assert!(check(&many(100), ParseLimits::POLICY).is_err());
}
