//! The SQL text of every statement (built once per table) and the pure helpers that turn
//! `Storage` arguments into statement parameters: list ranges and flattened batches.

use std::collections::BTreeMap;

use secrethub_storage::{StorageError, WriteOp};

/// Every statement the store runs, with the table name already substituted.
pub(crate) struct Statements {
    pub(crate) create_table: String,
    pub(crate) get: String,
    pub(crate) put: String,
    pub(crate) delete: String,
    /// `$1` start (inclusive), `$2` end (exclusive), `$3` limit.
    pub(crate) list_bounded: String,
    /// `$1` start (inclusive), `$2` limit; for prefixes without a successor (the empty one).
    pub(crate) list_open: String,
    /// `$1`/`$2` keys and values to upsert, `$3` keys to delete; the two key sets are disjoint.
    pub(crate) apply: String,
}

impl Statements {
    /// `table` must have passed [`validate_table_name`]: it is spliced in unquoted.
    pub(crate) fn new(table: &str) -> Self {
        let upsert = "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";
        Self {
            // COLLATE "C": byte order, which `list` promises, whatever the database default is.
            create_table: format!(
                "CREATE TABLE IF NOT EXISTS {table} \
                 (key TEXT COLLATE \"C\" PRIMARY KEY, value BYTEA NOT NULL)"
            ),
            get: format!("SELECT value FROM {table} WHERE key = $1"),
            put: format!("INSERT INTO {table} (key, value) VALUES ($1, $2) {upsert}"),
            delete: format!("DELETE FROM {table} WHERE key = $1"),
            list_bounded: format!(
                "SELECT key FROM {table} WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3"
            ),
            list_open: format!("SELECT key FROM {table} WHERE key >= $1 ORDER BY key LIMIT $2"),
            // A data-modifying CTE always runs to completion, referenced or not, and the whole
            // statement is one atomic unit.
            apply: format!(
                "WITH deleted AS (DELETE FROM {table} WHERE key = ANY($3::text[])) \
                 INSERT INTO {table} (key, value) \
                 SELECT k, v FROM unnest($1::text[], $2::bytea[]) AS u(k, v) {upsert}"
            ),
        }
    }
}

/// Accepts lowercase unquoted identifiers only, so the name can be spliced into SQL as is
/// and means the same table to `psql` users (unquoted names fold to lowercase).
pub(crate) fn validate_table_name(name: &str) -> Result<(), StorageError> {
    let mut chars = name.chars();
    let ok = name.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StorageError::unavailable(
            "invalid postgresql table name",
            anyhow::anyhow!(
                "{name:?} is not a lowercase identifier ([a-z_][a-z0-9_]*, at most 63 bytes)"
            ),
        ))
    }
}

/// The key range `[start, end)` of one `list` call.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ListRange {
    pub(crate) start: String,
    /// `None` when every key is `>= start` under the prefix (empty prefix).
    pub(crate) end: Option<String>,
}

impl ListRange {
    pub(crate) fn new(prefix: &str, after: Option<&str>) -> Self {
        let start = match after {
            // "Strictly after X" is "at least X + U+0001": the only strings in between start
            // with X + NUL, which PostgreSQL text cannot hold. This keeps one `>=` statement
            // instead of a second, `>` variant of each query.
            Some(a) => format!("{prefix}{a}\u{1}"),
            None => prefix.to_string(),
        };
        Self {
            start,
            end: successor(prefix),
        }
    }
}

/// The smallest string greater than every string that starts with `prefix`, in byte order
/// (UTF-8 byte order is code-point order): the prefix with its last character incremented,
/// dropping trailing characters that can't be. `None` for the empty prefix.
pub(crate) fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A batch flattened into the three arrays of the `apply` statement.
pub(crate) struct Batch<'a> {
    pub(crate) put_keys: Vec<&'a str>,
    pub(crate) put_values: Vec<&'a [u8]>,
    pub(crate) delete_keys: Vec<&'a str>,
}

impl<'a> Batch<'a> {
    /// Keeps only the last write to each key: the final state is the same as applying the
    /// writes in order, and one statement may not touch the same row twice. Keys come out
    /// sorted, so concurrent batches lock rows in one order.
    pub(crate) fn new(ops: &'a [WriteOp]) -> Self {
        let mut last: BTreeMap<&str, Option<&[u8]>> = BTreeMap::new();
        for op in ops {
            match op {
                WriteOp::Put { key, value } => last.insert(key, Some(value)),
                WriteOp::Delete { key } => last.insert(key, None),
            };
        }
        let mut batch = Batch {
            put_keys: Vec::new(),
            put_values: Vec::new(),
            delete_keys: Vec::new(),
        };
        for (key, value) in last {
            match value {
                Some(v) => {
                    batch.put_keys.push(key);
                    batch.put_values.push(v);
                }
                None => batch.delete_keys.push(key),
            }
        }
        batch
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.put_keys.is_empty() && self.delete_keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_is_the_first_string_past_the_prefix() {
        assert_eq!(successor(""), None);
        assert_eq!(successor("a/").as_deref(), Some("a0"));
        assert_eq!(successor("ab").as_deref(), Some("ac"));
        assert_eq!(successor("a\u{7f}").as_deref(), Some("a\u{80}"));
        // Surrogates are not chars: U+D7FF is followed by U+E000.
        assert_eq!(successor("\u{d7ff}").as_deref(), Some("\u{e000}"));
        assert_eq!(successor("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(successor("\u{10ffff}"), None);
    }

    #[test]
    fn list_range_excludes_after() {
        let r = ListRange::new("p/", Some("k1"));
        assert_eq!(r.start, "p/k1\u{1}");
        assert_eq!(r.end.as_deref(), Some("p0"));
        assert!("p/k1" < r.start.as_str() && r.start.as_str() <= "p/k1 ");
        assert_eq!(ListRange::new("", None).end, None);
    }

    #[test]
    fn batch_keeps_last_write_per_key() {
        let ops = vec![
            WriteOp::Put {
                key: "b".into(),
                value: b"1".to_vec(),
            },
            WriteOp::Delete { key: "a".into() },
            WriteOp::Delete { key: "b".into() },
            WriteOp::Put {
                key: "a".into(),
                value: b"2".to_vec(),
            },
            WriteOp::Delete { key: "c".into() },
        ];
        let b = Batch::new(&ops);
        assert_eq!(b.put_keys, ["a"]);
        assert_eq!(b.put_values, [&b"2"[..]]);
        assert_eq!(b.delete_keys, ["b", "c"]);
        assert!(Batch::new(&[]).is_empty());
    }

    #[test]
    fn table_names_are_plain_identifiers() {
        for ok in ["secrethub_kv", "_t1", "a"] {
            assert!(validate_table_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in [
            "",
            "1abc",
            "Kv",
            "kv;drop",
            "a-b",
            "\"kv\"",
            "s.kv",
            long.as_str(),
        ] {
            assert!(validate_table_name(bad).is_err(), "{bad}");
        }
    }
}
