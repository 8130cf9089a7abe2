//! The nine nesting shapes of the hardening issue that overflowed the HCL parser's stack
//! (`[`, `{a=`, `f(`, `(`, `"${`, unary `-` and `!`, `+` chains and `?:` chains), as
//! expressions `n` levels deep, for the tests of every place HCL is parsed from a request.

/// Every shape, as [`expression`] names it.
pub const SHAPES: [&str; 9] = ["[", "{a=", "f(", "(", "\"${", "-", "!", "+", "?:"];

/// An HCL expression of `shape` nested `n` levels deep.
pub fn expression(shape: &str, n: usize) -> String {
    match shape {
        "[" => format!("{}1{}", "[".repeat(n), "]".repeat(n)),
        "{a=" => format!("{}1{}", "{a=".repeat(n), "}".repeat(n)),
        "f(" => format!("{}1{}", "f(".repeat(n), ")".repeat(n)),
        "(" => format!("{}1{}", "(".repeat(n), ")".repeat(n)),
        "\"${" => format!("{}1{}", "\"${".repeat(n), "}\"".repeat(n)),
        "-" => format!("{}1", "-".repeat(n)),
        "!" => format!("{}true", "!".repeat(n)),
        "+" => format!("1{}", "+1".repeat(n)),
        "?:" => format!("{}1", "true ? 1 : ".repeat(n)),
        _ => panic!("unknown nesting shape {shape:?}"),
    }
}
