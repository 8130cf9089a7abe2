//! The keyring: every data-encryption key the barrier has ever used, by term, and which term
//! encrypts new writes. Rotation adds a term and keeps the old ones, so data written earlier
//! still decrypts. The keyring is persisted as a JSON `KeyringRecord`, itself sealed in an
//! envelope under the root key (term 0) with its storage path as associated data.

use std::collections::BTreeMap;

use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::envelope::{self, OpenError};
use crate::root_key::KEY_LEN;
use crate::{BarrierError, RootKey, KEYRING_PATH};

/// The term written in the envelope of the keyring itself; data terms start at 1.
const ROOT_TERM: u32 = 0;
const RECORD_VERSION: u32 = 1;

/// One data-encryption key and when it was installed.
#[derive(Clone)]
pub(crate) struct TermKey {
    pub(crate) key: Zeroizing<[u8; KEY_LEN]>,
    /// Unix seconds.
    pub(crate) install_time: i64,
}

/// The keys by term plus the active term. Never empty; the active term is always present.
#[derive(Clone)]
pub(crate) struct Keyring {
    terms: BTreeMap<u32, TermKey>,
    active_term: u32,
}

/// The persisted form. Key bytes are fixed-size arrays so decoding never reallocates a
/// buffer holding them, and the whole record is wiped on drop.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct KeyringRecord {
    version: u32,
    active_term: u32,
    keys: Vec<TermRecord>,
}

#[derive(Serialize, Deserialize, Zeroize)]
struct TermRecord {
    term: u32,
    key: [u8; KEY_LEN],
    install_time: i64,
}

impl Keyring {
    /// A new keyring with one random key at term 1.
    pub(crate) fn first(now: i64) -> Self {
        let mut terms = BTreeMap::new();
        terms.insert(1, random_term_key(now));
        Self {
            terms,
            active_term: 1,
        }
    }

    /// A copy with a new random key one term above the highest, active from now on.
    pub(crate) fn rotated(&self, now: i64) -> Result<Self, BarrierError> {
        let next = self
            .max_term()
            .checked_add(1)
            .ok_or_else(|| BarrierError::Crypto("keyring term overflow".into()))?;
        let mut rotated = self.clone();
        rotated.terms.insert(next, random_term_key(now));
        rotated.active_term = next;
        Ok(rotated)
    }

    pub(crate) fn active_term(&self) -> u32 {
        self.active_term
    }

    pub(crate) fn max_term(&self) -> u32 {
        // The map is never empty (see the constructors and `decode`), so 0 is never used.
        self.terms.keys().next_back().copied().unwrap_or(ROOT_TERM)
    }

    pub(crate) fn active(&self) -> &TermKey {
        self.terms
            .get(&self.active_term)
            // Every constructor and `decode` checks that the active term has a key.
            .expect("active term is in the keyring")
    }

    pub(crate) fn key(&self, term: u32) -> Option<&TermKey> {
        self.terms.get(&term)
    }

    /// The keyring encrypted under `root`, ready for `core/keyring`.
    pub(crate) fn seal_with(&self, root: &RootKey) -> Result<Vec<u8>, BarrierError> {
        let plaintext = self.encode()?;
        envelope::seal(
            root.as_bytes(),
            ROOT_TERM,
            KEYRING_PATH.as_bytes(),
            &plaintext,
        )
        .map_err(|_| BarrierError::Crypto("keyring encryption failed".into()))
    }

    /// Decrypts and decodes a sealed keyring; a key that fails authentication is `InvalidKey`.
    pub(crate) fn open_with(root: &RootKey, sealed: &[u8]) -> Result<Self, BarrierError> {
        if envelope::term(sealed) != Ok(ROOT_TERM) {
            return Err(BarrierError::Crypto("stored keyring is malformed".into()));
        }
        let plaintext = envelope::open(root.as_bytes(), KEYRING_PATH.as_bytes(), sealed)
            .map(Zeroizing::new)
            .map_err(|e| match e {
                OpenError::Authentication => BarrierError::InvalidKey,
                OpenError::Malformed => BarrierError::Crypto("stored keyring is malformed".into()),
            })?;
        Self::decode(&plaintext)
    }

    fn encode(&self) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
        let record = KeyringRecord {
            version: RECORD_VERSION,
            active_term: self.active_term,
            keys: self
                .terms
                .iter()
                .map(|(&term, k)| TermRecord {
                    term,
                    key: *k.key,
                    install_time: k.install_time,
                })
                .collect(),
        };
        // Sized up front so the buffer holding key bytes is not reallocated (and the old
        // copy left behind unzeroized) while it is written: a key is at most 4 * 32 digits.
        let mut out = Zeroizing::new(Vec::with_capacity(64 + record.keys.len() * 256));
        serde_json::to_writer(&mut *out, &record)
            .map_err(|_| BarrierError::Crypto("keyring encoding failed".into()))?;
        Ok(out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, BarrierError> {
        let malformed = |what: &str| BarrierError::Crypto(format!("stored keyring {what}"));
        let record: KeyringRecord =
            serde_json::from_slice(bytes).map_err(|_| malformed("is undecodable"))?;
        if record.version != RECORD_VERSION {
            return Err(malformed("has an unknown version"));
        }
        let mut terms = BTreeMap::new();
        for k in &record.keys {
            if k.term == ROOT_TERM {
                return Err(malformed("uses the reserved term 0"));
            }
            let key = TermKey {
                key: Zeroizing::new(k.key),
                install_time: k.install_time,
            };
            if terms.insert(k.term, key).is_some() {
                return Err(malformed("has a duplicate term"));
            }
        }
        if !terms.contains_key(&record.active_term) {
            return Err(malformed("has no key for its active term"));
        }
        Ok(Self {
            terms,
            active_term: record.active_term,
        })
    }
}

fn random_term_key(now: i64) -> TermKey {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    OsRng.fill_bytes(key.as_mut());
    TermKey {
        key,
        install_time: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_keeps_old_terms() {
        let first = Keyring::first(100);
        let second = first.rotated(200).expect("rotate");
        assert_eq!(second.active_term(), 2);
        assert_eq!(second.active().install_time, 200);
        assert_eq!(second.key(1).map(|k| *k.key), Some(*first.active().key));
        assert_ne!(*second.active().key, *first.active().key);
        assert_eq!(first.active_term(), 1, "rotation returns a copy");
    }

    #[test]
    fn seal_open_round_trip() {
        let root = RootKey::generate();
        let ring = Keyring::first(5).rotated(6).expect("rotate");
        let sealed = ring.seal_with(&root).expect("seal");
        let back = Keyring::open_with(&root, &sealed).expect("open");
        assert_eq!(back.active_term(), 2);
        assert_eq!(back.max_term(), 2);
        for term in [1, 2] {
            let (a, b) = (ring.key(term).expect("a"), back.key(term).expect("b"));
            assert_eq!(*a.key, *b.key);
            assert_eq!(a.install_time, b.install_time);
        }
        assert!(matches!(
            Keyring::open_with(&RootKey::generate(), &sealed),
            Err(BarrierError::InvalidKey)
        ));
    }

    #[test]
    fn decode_rejects_inconsistent_records() {
        let key = format!("{:?}", [1u8; KEY_LEN]);
        let cases = [
            "not json".to_string(),
            format!(
                r#"{{"version":2,"active_term":1,"keys":[{{"term":1,"key":{key},"install_time":0}}]}}"#
            ),
            format!(
                r#"{{"version":1,"active_term":2,"keys":[{{"term":1,"key":{key},"install_time":0}}]}}"#
            ),
            format!(
                r#"{{"version":1,"active_term":0,"keys":[{{"term":0,"key":{key},"install_time":0}}]}}"#
            ),
            format!(
                r#"{{"version":1,"active_term":1,"keys":[{{"term":1,"key":{key},"install_time":0}},{{"term":1,"key":{key},"install_time":0}}]}}"#
            ),
            r#"{"version":1,"active_term":1,"keys":[{"term":1,"key":[1,2],"install_time":0}]}"#
                .to_string(),
            r#"{"version":1,"active_term":1,"keys":[]}"#.to_string(),
        ];
        for case in &cases {
            assert!(
                matches!(
                    Keyring::decode(case.as_bytes()),
                    Err(BarrierError::Crypto(_))
                ),
                "{case}"
            );
        }
        let ok = format!(
            r#"{{"version":1,"active_term":1,"keys":[{{"term":1,"key":{key},"install_time":0}}]}}"#
        );
        assert_eq!(
            Keyring::decode(ok.as_bytes()).expect("valid").active_term(),
            1
        );
    }
}
