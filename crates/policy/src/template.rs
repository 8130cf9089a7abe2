//! `{{identity...}}` templates in path patterns, filled per token by `Policy::render`.
//! Only the mechanics live here (finding, checking and substituting `{{ expr }}`); which
//! expressions exist and what they resolve to is the caller's business (core knows entities).

/// Whether the text holds a `{{`.
pub(crate) fn has_template(text: &str) -> bool {
    text.contains("{{")
}

/// Whether every `{{` is closed by one `}}` before the next `{{`, and no `}}` is stray.
pub(crate) fn is_balanced(text: &str) -> bool {
    let mut pieces = text.split("{{");
    // `split` always yields a first piece.
    let head = pieces.next().unwrap_or_default();
    !head.contains("}}") && pieces.all(|piece| piece.matches("}}").count() == 1)
}

/// Characters a substituted value may not contain: they would turn a value into a wildcard
/// (`*`, `+`) or reach into other paths (`/`).
const FORBIDDEN_IN_VALUES: [char; 3] = ['*', '+', '/'];

/// Substitutes every `{{ expr }}`; `None` when one can't be filled or is forbidden.
pub(crate) fn render(text: &str, vars: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if !is_balanced(text) {
        return None;
    }
    let mut pieces = text.split("{{");
    let mut out = pieces.next().unwrap_or_default().to_owned();
    for piece in pieces {
        let (expr, rest) = piece.split_once("}}")?;
        let value = vars(expr.trim())?;
        if value.contains(FORBIDDEN_IN_VALUES) {
            return None;
        }
        out.push_str(&value);
        out.push_str(rest);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{is_balanced, render};

    #[test]
    fn balance() {
        for (text, want) in [
            ("plain", true),
            ("a/{{x}}/b", true),
            ("{{x}}{{y}}", true),
            ("a/{{x", false),
            ("a/x}}", false),
            ("{{x}}}}", false),
            ("{{x{{y}}", false),
        ] {
            assert_eq!(is_balanced(text), want, "{text:?}");
        }
    }

    #[test]
    fn substitution() {
        let vars = |expr: &str| match expr {
            "identity.entity.id" => Some("abc".to_owned()),
            "identity.entity.name" => Some("a/b".to_owned()),
            "star" => Some("x*".to_owned()),
            _ => None,
        };
        let cases = [
            ("secret/{{identity.entity.id}}/*", Some("secret/abc/*")),
            ("secret/{{ identity.entity.id }}/x", Some("secret/abc/x")),
            ("secret/{{identity.entity.name}}", None),
            ("secret/{{star}}", None),
            ("secret/{{unknown}}", None),
            ("secret/plain", Some("secret/plain")),
        ];
        for (text, want) in cases {
            assert_eq!(render(text, &vars).as_deref(), want, "{text:?}");
        }
    }
}
