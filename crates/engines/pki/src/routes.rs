//! The engine's routes: the `Route` enum `handle` matches on, and the path table (help on
//! every row; the unauthenticated, sudo and raw-body flags on the special ones).

use secrethub_engine::{Operation, PathEntry, PathTable};
use Operation::{Delete, List, Read, Update};

/// Every path the engine serves; `handle` matches on it exhaustively.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route {
    RootGenerate,
    Root,
    IntermediateGenerate,
    SignIntermediate,
    SetSigned,
    SignSelfIssued,
    Keys,
    Key,
    Ca,
    CaPem,
    CaChain,
    Cert,
    Certs,
    Issuers,
    Issuer,
    IssuerPem,
    IssuerDer,
    IssuerJson,
    ConfigIssuers,
    ConfigUrls,
    ConfigCrl,
    ConfigCa,
    ConfigAcme,
    ConfigCluster,
    Acme,
    Roles,
    Role,
    Issue,
    Sign,
    SignVerbatim,
    IssuerCrl,
    Revoke,
    Crl,
    CrlPem,
    Ocsp,
    OcspGet,
    CrlRotate,
    Tidy,
    TidyStatus,
}

impl Route {
    /// Whether a write to this route changes issuers, revocations or CRLs.
    pub(crate) fn changes_crls(self) -> bool {
        use Route::*;
        matches!(
            self,
            RootGenerate
                | Root
                | SetSigned
                | ConfigCa
                | ConfigCrl
                | Issuer
                | Revoke
                | CrlRotate
                | Tidy
        )
    }
}

fn open(pattern: &'static str, route: Route, help: &'static str) -> PathEntry<Route> {
    PathEntry::new(pattern, route, &[Read], help).unauthenticated()
}

pub(crate) fn table() -> PathTable<Route> {
    use Route::*;
    PathTable::new()
        .add(
            "root/generate/{exported}",
            RootGenerate,
            &[Update],
            "Generates a self-signed root CA (internal: key kept; exported: key answered).",
        )
        .entry(PathEntry::new("root", Root, &[Delete], "Deletes every issuer and its key.").sudo())
        .add(
            "intermediate/generate/{exported}",
            IntermediateGenerate,
            &[Update],
            "Makes a key and a CSR for an intermediate CA (exported: the key answered).",
        )
        .add(
            "root/sign-intermediate",
            SignIntermediate,
            &[Update],
            "Signs an intermediate CA's CSR with this mount's issuer.",
        )
        .entry(
            PathEntry::new(
                "root/sign-self-issued",
                SignSelfIssued,
                &[Update],
                "Signs a self-issued CA certificate again with this mount's issuer (cross-signing).",
            )
            .sudo(),
        )
        .add(
            "issuers/generate/root/{exported}",
            RootGenerate,
            &[Update],
            "The same as root/generate/:type (Vault 1.11's issuer paths).",
        )
        .add(
            "issuers/generate/intermediate/{exported}",
            IntermediateGenerate,
            &[Update],
            "The same as intermediate/generate/:type.",
        )
        .add(
            "issuers/import/bundle",
            ConfigCa,
            &[Update],
            "The same as config/ca: a CA with its key (pem_bundle).",
        )
        .add(
            "issuers/import/cert",
            ConfigCa,
            &[Update],
            "Imports a CA certificate whose key this mount holds (pem_bundle).",
        )
        .add(
            "issuer/{ref}/sign-intermediate",
            SignIntermediate,
            &[Update],
            "Signs an intermediate CA's CSR with this issuer.",
        )
        .entry(
            PathEntry::new(
                "issuer/{ref}/sign-self-issued",
                SignSelfIssued,
                &[Update],
                "Cross-signs a self-issued CA certificate with this issuer.",
            )
            .sudo(),
        )
        .add("keys", Keys, &[List], "The issuers' and waiting intermediates' keys.")
        .add("key/{ref}", Key, &[Read], "A key by ID or name: its type and key identifier.")
        .add(
            "intermediate/set-signed",
            SetSigned,
            &[Update],
            "Imports the signed intermediate certificate (and its chain) as an issuer.",
        )
        .entry(open("ca", Ca, "The default issuer's certificate, DER."))
        .entry(open(
            "ca/pem",
            CaPem,
            "The default issuer's certificate, PEM.",
        ))
        .entry(open(
            "ca_chain",
            CaChain,
            "The default issuer's chain, PEM.",
        ))
        .entry(open(
            "cert/{serial}",
            Cert,
            "A certificate by serial (or ca, ca_chain, crl), with its revocation time.",
        ))
        .add(
            "certs",
            Certs,
            &[List],
            "Serial numbers of the stored certificates.",
        )
        .entry(
            PathEntry::new("issuers", Issuers, &[List], "The issuers, with key_info.")
                .unauthenticated(),
        )
        .add(
            "issuer/{ref}",
            Issuer,
            &[Read, Update, Delete],
            "An issuer by ID or name, or default: read, rename or set leaf_not_after_behavior, delete.",
        )
        .entry(open(
            "issuer/{ref}/pem",
            IssuerPem,
            "An issuer's certificate, PEM.",
        ))
        .entry(open(
            "issuer/{ref}/der",
            IssuerDer,
            "An issuer's certificate, DER.",
        ))
        .entry(open(
            "issuer/{ref}/json",
            IssuerJson,
            "An issuer's certificate and chain, JSON.",
        ))
        .add(
            "config/issuers",
            ConfigIssuers,
            &[Read, Update],
            "Which issuer is the default.",
        )
        .add(
            "config/acme",
            ConfigAcme,
            &[Read, Update],
            "Turns ACME on or off for this mount.",
        )
        .add(
            "config/cluster",
            ConfigCluster,
            &[Read, Update],
            "This mount's external URL (path), which ACME URLs start with.",
        )
        .entry(
            PathEntry::new(
                "acme/{*rest}",
                Acme,
                &[Read, Update],
                "ACME (RFC 8555): directory, nonces, accounts, orders, http-01, finalize, certificates.",
            )
            .unauthenticated(),
        )
        .add(
            "config/ca",
            ConfigCa,
            &[Update],
            "Imports a CA certificate (and chain) with its private key as an issuer.",
        )
        .add(
            "config/crl",
            ConfigCrl,
            &[Read, Update],
            "CRL and OCSP settings: expiry, auto_rebuild_grace_period, ocsp_expiry, disable.",
        )
        .add(
            "config/urls",
            ConfigUrls,
            &[Read, Update],
            "URLs written into issued certificates (issuing CA, CRL, OCSP).",
        )
        .add("roles", Roles, &[List], "The roles.")
        .add(
            "roles/{name}",
            Role,
            &[Read, Update, Delete],
            "What a role lets issue and sign put in a certificate.",
        )
        .add(
            "issue/{role}",
            Issue,
            &[Update],
            "Issues a certificate and a new private key under a role.",
        )
        .add("sign/{role}", Sign, &[Update], "Signs a CSR under a role.")
        .add(
            "sign-verbatim",
            SignVerbatim,
            &[Update],
            "Signs a CSR as it is, without a role's name checks.",
        )
        .add(
            "sign-verbatim/{role}",
            SignVerbatim,
            &[Update],
            "Signs a CSR as it is, with the role's usages and TTLs.",
        )
        .add(
            "issuer/{ref}/issue/{role}",
            Issue,
            &[Update],
            "Issues a certificate under a role, signed by this issuer.",
        )
        .add(
            "issuer/{ref}/sign/{role}",
            Sign,
            &[Update],
            "Signs a CSR under a role with this issuer.",
        )
        .add(
            "issuer/{ref}/sign-verbatim",
            SignVerbatim,
            &[Update],
            "Signs a CSR as it is with this issuer.",
        )
        .add(
            "issuer/{ref}/sign-verbatim/{role}",
            SignVerbatim,
            &[Update],
            "Signs a CSR as it is with this issuer, with the role's usages and TTLs.",
        )
        .entry(open(
            "issuer/{ref}/crl",
            IssuerCrl,
            "An issuer's CRL, PEM in JSON (data.crl).",
        ))
        .entry(open(
            "issuer/{ref}/crl/{format}",
            IssuerCrl,
            "An issuer's CRL: pem or der.",
        ))
        .add(
            "revoke",
            Revoke,
            &[Update],
            "Revokes a certificate by serial_number or certificate.",
        )
        .entry(
            PathEntry::new(
                "ocsp",
                Ocsp,
                &[Update],
                "The OCSP responder (RFC 6960): a DER request as the body.",
            )
            .unauthenticated()
            .raw_body(),
        )
        .entry(open(
            "ocsp/{*request}",
            OcspGet,
            "The OCSP responder (RFC 6960): a base64 request in the path.",
        ))
        .entry(open("crl", Crl, "The default issuer's CRL, DER."))
        .entry(open("crl/pem", CrlPem, "The default issuer's CRL, PEM."))
        .add(
            "crl/rotate",
            CrlRotate,
            &[Read],
            "Rebuilds every issuer's CRL.",
        )
        .add(
            "tidy",
            Tidy,
            &[Update],
            "Removes expired certificates (and revocation entries) past safety_buffer.",
        )
        .add("tidy-status", TidyStatus, &[Read], "What the last tidy did.")
}
