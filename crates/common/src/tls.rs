//! The TLS settings of a `listener "tcp"` stanza by Vault's names: `tls_min_version`
//! (`tls12`, `tls13`) and `tls_cipher_suites` (Go's cipher suite names). The config crate
//! parses them here and the server maps them onto rustls, so the one table of names both use
//! lives below both, without a TLS library.
//!
//! rustls serves TLS 1.2 and 1.3 only, with ECDHE key exchange and AEAD ciphers; Go names
//! for anything else (RSA key exchange, CBC, RC4, 3DES) and TLS 1.0/1.1 are refused with an
//! error rather than silently served with something else.

/// The lowest TLS version a listener accepts (`tls_min_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersion {
    /// `tls12`, Vault's default.
    #[default]
    Tls12,
    /// `tls13`.
    Tls13,
}

impl TlsVersion {
    /// Parses a `tls_min_version` value; the error says why, without a location.
    pub fn parse(value: &str) -> Result<TlsVersion, String> {
        match value.trim() {
            "tls12" => Ok(TlsVersion::Tls12),
            "tls13" => Ok(TlsVersion::Tls13),
            v @ ("tls10" | "tls11") => Err(format!(
                "{v:?} is refused: TLS 1.0 and 1.1 are insecure and not served; use \"tls12\" or \"tls13\""
            )),
            v => Err(format!("{v:?} is not one of \"tls12\", \"tls13\"")),
        }
    }
}

/// A cipher suite a listener can be limited to (`tls_cipher_suites`), by Go's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)] // Named as IANA and Go name them, so the table reads as the docs.
pub enum CipherSuite {
    /// TLS 1.2.
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    /// TLS 1.2.
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    /// TLS 1.2.
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    /// TLS 1.2.
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    /// TLS 1.2.
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    /// TLS 1.2.
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    /// TLS 1.3 (always enabled, as in Vault: the list limits TLS 1.2 suites only).
    TLS_AES_128_GCM_SHA256,
    /// TLS 1.3 (always enabled).
    TLS_AES_256_GCM_SHA384,
    /// TLS 1.3 (always enabled).
    TLS_CHACHA20_POLY1305_SHA256,
}

/// Go's names of the suites rustls serves, aliases included.
const SUPPORTED: &[(&str, CipherSuite)] = &[
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    // Go's older name of the same suite.
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS_AES_128_GCM_SHA256,
    ),
    (
        "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS_AES_256_GCM_SHA384,
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
    ),
];

impl CipherSuite {
    /// Whether this is a TLS 1.3 suite.
    pub fn is_tls13(self) -> bool {
        matches!(
            self,
            CipherSuite::TLS_AES_128_GCM_SHA256
                | CipherSuite::TLS_AES_256_GCM_SHA384
                | CipherSuite::TLS_CHACHA20_POLY1305_SHA256
        )
    }

    /// Parses a `tls_cipher_suites` value: Go names separated by commas; empty means the
    /// defaults. The error names the first suite that is not served, without a location.
    pub fn parse_list(value: &str) -> Result<Vec<CipherSuite>, String> {
        let mut suites = Vec::new();
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let Some(&(_, suite)) = SUPPORTED.iter().find(|(n, _)| *n == name) else {
                return Err(format!(
                    "cipher suite {name:?} is not supported (only ECDHE suites with AES-GCM or \
                     ChaCha20-Poly1305 for TLS 1.2, and the TLS 1.3 suites, are served)"
                ));
            };
            if !suites.contains(&suite) {
                suites.push(suite);
            }
        }
        Ok(suites)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(TlsVersion::parse("tls12"), Ok(TlsVersion::Tls12));
        assert_eq!(TlsVersion::parse(" tls13 "), Ok(TlsVersion::Tls13));
        let err = TlsVersion::parse("tls10").unwrap_err();
        assert!(err.contains("\"tls10\" is refused"), "{err}");
        let err = TlsVersion::parse("TLS1.2").unwrap_err();
        assert_eq!(err, "\"TLS1.2\" is not one of \"tls12\", \"tls13\"");
    }

    #[test]
    fn suites_by_go_name_aliases_and_duplicates() {
        let suites = CipherSuite::parse_list(
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,TLS_AES_128_GCM_SHA256,",
        )
        .unwrap();
        assert_eq!(
            suites,
            [
                CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                CipherSuite::TLS_AES_128_GCM_SHA256
            ]
        );
        assert!(suites[1].is_tls13() && !suites[0].is_tls13());
        assert_eq!(CipherSuite::parse_list(" "), Ok(vec![]));
    }

    #[test]
    fn suites_rustls_cannot_serve_are_named() {
        let err = CipherSuite::parse_list(
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_AES_128_CBC_SHA",
        )
        .unwrap_err();
        assert!(
            err.starts_with("cipher suite \"TLS_RSA_WITH_AES_128_CBC_SHA\" is not supported"),
            "{err}"
        );
    }
}
