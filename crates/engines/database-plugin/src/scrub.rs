//! [`scrub`]: what every plugin does to a database's message before it goes anywhere.

/// The shortest run of a secret that is hidden when found in a message: a syntax error quotes
/// part of the statement from where the parser stopped, which may cut a password anywhere.
const MIN_FRAGMENT: usize = 4;

const MASK: &str = "<redacted>";

/// `message` without `secrets`: each one whole, any double-quoted piece of one (PostgreSQL
/// quotes the token it stopped at, however short), and any run of at least four characters
/// of one (MySQL quotes up to 80 characters from where it stopped, cutting a password
/// anywhere). Hiding too much is harmless; an empty secret is ignored.
pub fn scrub(message: &str, secrets: &[&str]) -> String {
    let secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    if secrets.is_empty() {
        return message.to_string();
    }
    let mut out = message.to_string();
    for s in &secrets {
        out = out.replace(s, MASK);
    }
    let out = mask_quoted_pieces(&out, &secrets);
    mask_runs(&out, &secrets)
}

fn mask_quoted_pieces(message: &str, secrets: &[&str]) -> String {
    let pieces: Vec<&str> = message.split('"').collect();
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let quoted = i % 2 == 1 && i + 1 < pieces.len();
            if quoted && !p.is_empty() && secrets.iter().any(|s| s.contains(p)) {
                MASK
            } else {
                p
            }
        })
        .collect::<Vec<_>>()
        .join("\"")
}

fn mask_runs(message: &str, secrets: &[&str]) -> String {
    let chars: Vec<char> = message.chars().collect();
    let mut result = String::with_capacity(message.len());
    let mut i = 0;
    while i < chars.len() {
        let longest = secrets
            .iter()
            .map(|s| {
                let mut k = 0;
                while i + k < chars.len() {
                    let piece: String = chars[i..=i + k].iter().collect();
                    if !s.contains(&piece) {
                        break;
                    }
                    k += 1;
                }
                // Short secrets were caught whole above.
                if k >= MIN_FRAGMENT.min(s.chars().count()) {
                    k
                } else {
                    0
                }
            })
            .max()
            .unwrap_or(0);
        if longest > 0 {
            result.push_str(MASK);
            i += longest;
        } else {
            result.push(chars[i]);
            i += 1;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_quoted_and_cut_secrets() {
        // PostgreSQL quotes the token it stopped at.
        assert_eq!(
            scrub(
                "syntax error at or near \"Abc\" in 'xAbcdefy'",
                &["Abcdef", ""]
            ),
            "syntax error at or near \"<redacted>\" in 'x<redacted>y'"
        );
        // MySQL cuts the statement anywhere.
        let pw = "Abcdefghij0123456789";
        let msg = format!(
            "You have an error in your SQL syntax; near 'IDENTIFIED BY '{pw}'; GRANT' and near '{}",
            &pw[..7]
        );
        let out = scrub(&msg, &[pw, ""]);
        assert!(!out.contains("Abcd") && !out.contains("0123"), "{out}");
        assert!(out.contains("IDENTIFIED BY '<redacted>'"), "{out}");
        // Redis echoes the rule.
        assert_eq!(
            scrub(
                "ERR Error in ACL SETUSER modifier '>s3cret': x",
                &["s3cret"]
            ),
            "ERR Error in ACL SETUSER modifier '><redacted>': x"
        );
        // Nothing else changes.
        for m in ["role \"shub_x\" already exists", "user 'shub_x'@'%' exists"] {
            assert_eq!(scrub(m, &[pw, "Abcdef"]), m);
        }
        assert_eq!(scrub("no secrets", &[""]), "no secrets");
    }
}
