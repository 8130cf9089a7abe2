//! Vault's key types this engine serves, by name, and what each can do.

use serde::{Deserialize, Serialize};

use crate::error::{Result, TransitError};

/// Vault's key types that this engine serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum KeyType {
    #[serde(rename = "aes128-gcm96")]
    Aes128Gcm96,
    #[serde(rename = "aes256-gcm96")]
    Aes256Gcm96,
    #[serde(rename = "chacha20-poly1305")]
    Chacha20Poly1305,
    #[serde(rename = "ed25519")]
    Ed25519,
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    #[serde(rename = "ecdsa-p384")]
    EcdsaP384,
    #[serde(rename = "hmac")]
    Hmac,
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    #[serde(rename = "rsa-4096")]
    Rsa4096,
}

impl KeyType {
    /// Parses Vault's name; `ecdsa-p521` is known but not built yet.
    pub(crate) fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "aes128-gcm96" => KeyType::Aes128Gcm96,
            "aes256-gcm96" => KeyType::Aes256Gcm96,
            "chacha20-poly1305" => KeyType::Chacha20Poly1305,
            "ed25519" => KeyType::Ed25519,
            "ecdsa-p256" => KeyType::EcdsaP256,
            "ecdsa-p384" => KeyType::EcdsaP384,
            "hmac" => KeyType::Hmac,
            "rsa-2048" => KeyType::Rsa2048,
            "rsa-3072" => KeyType::Rsa3072,
            "rsa-4096" => KeyType::Rsa4096,
            "ecdsa-p521" => {
                return Err(TransitError::bad(format!(
                    "key type {name} is not supported yet"
                )))
            }
            other => return Err(TransitError::bad(format!("unknown key type {other}"))),
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            KeyType::Aes128Gcm96 => "aes128-gcm96",
            KeyType::Aes256Gcm96 => "aes256-gcm96",
            KeyType::Chacha20Poly1305 => "chacha20-poly1305",
            KeyType::Ed25519 => "ed25519",
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::Hmac => "hmac",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
        }
    }

    /// The RSA modulus size in bits, for RSA types.
    pub(crate) fn rsa_bits(self) -> Option<usize> {
        match self {
            KeyType::Rsa2048 => Some(2048),
            KeyType::Rsa3072 => Some(3072),
            KeyType::Rsa4096 => Some(4096),
            _ => None,
        }
    }

    /// Symmetric AEAD encryption (and derivation, convergence).
    pub(crate) fn symmetric(self) -> bool {
        matches!(
            self,
            KeyType::Aes128Gcm96 | KeyType::Aes256Gcm96 | KeyType::Chacha20Poly1305
        )
    }

    /// Encryption of any kind: symmetric, or RSA-OAEP.
    pub(crate) fn encrypts(self) -> bool {
        self.symmetric() || self.rsa_bits().is_some()
    }

    pub(crate) fn signs(self) -> bool {
        matches!(
            self,
            KeyType::Ed25519
                | KeyType::EcdsaP256
                | KeyType::EcdsaP384
                | KeyType::Rsa2048
                | KeyType::Rsa3072
                | KeyType::Rsa4096
        )
    }

    /// Length of a symmetric key in bytes.
    pub(crate) fn key_len(self) -> usize {
        match self {
            KeyType::Aes128Gcm96 => 16,
            _ => 32,
        }
    }
}
