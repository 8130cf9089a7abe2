//! The SHA-2 family for `hash` and `hmac` (Vault's `sha2-224`, `sha2-256`, `sha2-384`,
//! `sha2-512`); `sha3-*` is refused as not supported yet.

use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha224, Sha256, Sha384, Sha512};

use crate::error::{Result, TransitError};

/// A digest algorithm by Vault's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAlg {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// `None` or empty: Vault's default, `sha2-256`.
    pub(crate) fn parse(name: Option<&str>) -> Result<Self> {
        Ok(match name.unwrap_or("") {
            "" | "sha2-256" => HashAlg::Sha256,
            "sha2-224" => HashAlg::Sha224,
            "sha2-384" => HashAlg::Sha384,
            "sha2-512" => HashAlg::Sha512,
            n @ ("sha3-224" | "sha3-256" | "sha3-384" | "sha3-512") => {
                return Err(TransitError::bad(format!(
                    "hash algorithm {n} is not supported yet"
                )))
            }
            other => return Err(TransitError::bad(format!("unsupported algorithm {other}"))),
        })
    }

    pub(crate) fn digest(self, input: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha224 => Sha224::digest(input).to_vec(),
            HashAlg::Sha256 => Sha256::digest(input).to_vec(),
            HashAlg::Sha384 => Sha384::digest(input).to_vec(),
            HashAlg::Sha512 => Sha512::digest(input).to_vec(),
        }
    }

    /// Whether `tag` is the HMAC of `input`, compared in constant time.
    pub(crate) fn hmac_matches(self, key: &[u8], input: &[u8], tag: &[u8]) -> Result<bool> {
        fn run<M: Mac + hmac::digest::KeyInit>(
            key: &[u8],
            input: &[u8],
            tag: &[u8],
        ) -> Result<bool> {
            let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
                .map_err(|_| TransitError::Internal(anyhow::anyhow!("hmac key length")))?;
            mac.update(input);
            Ok(mac.verify_slice(tag).is_ok())
        }
        match self {
            HashAlg::Sha224 => run::<Hmac<Sha224>>(key, input, tag),
            HashAlg::Sha256 => run::<Hmac<Sha256>>(key, input, tag),
            HashAlg::Sha384 => run::<Hmac<Sha384>>(key, input, tag),
            HashAlg::Sha512 => run::<Hmac<Sha512>>(key, input, tag),
        }
    }

    pub(crate) fn hmac(self, key: &[u8], input: &[u8]) -> Result<Vec<u8>> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], input: &[u8]) -> Result<Vec<u8>> {
            let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
                .map_err(|_| TransitError::Internal(anyhow::anyhow!("hmac key length")))?;
            mac.update(input);
            Ok(mac.finalize().into_bytes().to_vec())
        }
        match self {
            HashAlg::Sha224 => run::<Hmac<Sha224>>(key, input),
            HashAlg::Sha256 => run::<Hmac<Sha256>>(key, input),
            HashAlg::Sha384 => run::<Hmac<Sha384>>(key, input),
            HashAlg::Sha512 => run::<Hmac<Sha512>>(key, input),
        }
    }
}
