//! The shape of a secret value and a fresh random value of the same shape, for the seed API's
//! rotation of KV secrets (`POST /api/v1/secrets/{path}/rotate`).
//!
//! Digits stay digits, hex stays hex (in its case), alphanumeric values keep the letter cases
//! and digits they had, and anything else gets letters, digits and the URL-unreserved marks
//! `-_.~`, which survive connection URLs, shell words, JSON, YAML and dotenv files unquoted.
//! Every class the shape has appears at least once when the length allows it. Values come
//! from the OS RNG (`secrethub_common::random_from`).

const DIGITS: &[u8] = b"0123456789";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const HEX_LOWER: &[u8] = b"0123456789abcdef";
const HEX_UPPER: &[u8] = b"0123456789ABCDEF";
const MARKS: &[u8] = b"-_.~";

/// The longest value a rotation makes.
pub(crate) const MAX_LENGTH: usize = 4096;
/// The length of a value made for a field that was empty.
const EMPTY_DEFAULT_LENGTH: usize = 32;

/// The character classes of a value; a new value draws from their union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shape {
    classes: Vec<&'static [u8]>,
}

impl Shape {
    /// The shape of `old`.
    pub(crate) fn of(old: &str) -> Shape {
        let b = old.as_bytes();
        let all = |f: fn(&u8) -> bool| !b.is_empty() && b.iter().all(f);
        let any = |f: fn(&u8) -> bool| b.iter().any(f);
        let classes: Vec<&'static [u8]> = if all(u8::is_ascii_digit) {
            vec![DIGITS]
        } else if is_hex(b, HEX_LOWER) {
            vec![HEX_LOWER]
        } else if is_hex(b, HEX_UPPER) {
            vec![HEX_UPPER]
        } else if all(u8::is_ascii_alphanumeric) {
            [
                (any(u8::is_ascii_lowercase), LOWER),
                (any(u8::is_ascii_uppercase), UPPER),
                (any(u8::is_ascii_digit), DIGITS),
            ]
            .into_iter()
            .filter_map(|(has, class)| has.then_some(class))
            .collect()
        } else {
            vec![LOWER, UPPER, DIGITS, MARKS]
        };
        Shape { classes }
    }

    /// A new random value of this shape, `length` characters long.
    pub(crate) fn generate(&self, length: usize) -> String {
        let alphabet: Vec<u8> = self.classes.concat();
        // Rejection keeps the draw uniform among values that have every class; with the
        // alphabets above a miss is rare, and the cap only matters for tiny lengths.
        let mut value = String::new();
        for _ in 0..1000 {
            value = secrethub_common::random_from(&alphabet, length);
            if length < self.classes.len() || self.is_complete(&value) {
                break;
            }
        }
        value
    }

    fn is_complete(&self, value: &str) -> bool {
        self.classes
            .iter()
            .all(|class| value.bytes().any(|c| class.contains(&c)))
    }
}

/// Hex in one case: only that alphabet, with both a digit and a letter (so `12` stays
/// digits and `cafe` stays lowercase letters).
fn is_hex(b: &[u8], alphabet: &[u8]) -> bool {
    b.iter().all(|c| alphabet.contains(c))
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(u8::is_ascii_alphabetic)
}

/// The length of the new value: the requested one, else the old value's (in characters),
/// else a default for an empty value.
pub(crate) fn length_for(old: &str, requested: Option<usize>) -> usize {
    match requested {
        Some(n) => n,
        None => match old.chars().count() {
            0 => EMPTY_DEFAULT_LENGTH,
            n => n.min(MAX_LENGTH),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotated(old: &str, length: Option<usize>) -> String {
        Shape::of(old).generate(length_for(old, length))
    }

    #[test]
    fn keeps_the_shape() {
        let hex = rotated("9f86d081884c7d659a2feaa0c55ad015", None);
        assert_eq!(hex.len(), 32);
        assert!(hex.bytes().all(|c| HEX_LOWER.contains(&c)), "{hex}");
        let upper = rotated("9F86D081", Some(12));
        assert_eq!(upper.len(), 12);
        assert!(upper.bytes().all(|c| HEX_UPPER.contains(&c)), "{upper}");
        let pin = rotated("0042", None);
        assert!(pin.len() == 4 && pin.bytes().all(|c| c.is_ascii_digit()));
        let word = rotated("secure123", None);
        assert_eq!(word.len(), 9);
        assert!(word
            .bytes()
            .all(|c| LOWER.contains(&c) || DIGITS.contains(&c)));
        assert!(
            word.bytes().any(|c| c.is_ascii_digit())
                && word.bytes().any(|c| c.is_ascii_lowercase())
        );
        let letters = rotated("cafe", None);
        assert!(letters.bytes().all(|c| c.is_ascii_lowercase()), "{letters}");
        let mixed = rotated("Pa55w0rd!", Some(40));
        assert_eq!(mixed.len(), 40);
        assert!(mixed
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || MARKS.contains(&c)));
        assert!(Shape::of("Pa55w0rd!").is_complete(&mixed), "{mixed}");
        assert_eq!(rotated("", None).len(), EMPTY_DEFAULT_LENGTH);
        assert_eq!(rotated("héllo", None).chars().count(), 5);
    }

    #[test]
    fn values_differ() {
        let old = "9f86d081884c7d659a2feaa0c55ad015";
        assert_ne!(rotated(old, None), rotated(old, None));
    }
}
