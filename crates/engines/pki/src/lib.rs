//! PKI secrets engine: a certificate authority with Vault's API (`pki/…`), paths,
//! parameters and answer shapes as OpenBao 2.x answers them.
//!
//! # What it serves
//! - Issuers: `root/generate/internal|exported` (RSA 2048/3072/4096, EC P-256/P-384,
//!   Ed25519), `DELETE root` and `root/sign-self-issued` (sudo), intermediates (`intermediate/generate`,
//!   `root/sign-intermediate`, `intermediate/set-signed`), `config/ca` imports (a CA with
//!   its key), Vault 1.11's `issuers/generate|import/*` and `issuer/:ref/sign-*` paths,
//!   `keys` and `key/:ref`, several issuers per mount with a
//!   default (`issuers` LIST, `issuer/:ref` read, rename, `leaf_not_after_behavior`
//!   err/truncate/permit, delete, and its `pem`/`der`/`json`, `config/issuers`), the
//!   default's certificate and chain (`ca`, `ca/pem`, `ca_chain`, `cert/ca`,
//!   `cert/ca_chain`), `config/urls` (written into issued certificates).
//! - Roles: `roles/:name` with every field Vault answers (see `paths/roles.rs` for which
//!   act), LIST `roles`.
//! - Issuing: `issue/:role` (the key made here), `sign/:role` (a CSR),
//!   `sign-verbatim[/:role]`, each also under `issuer/:ref/`; `cert/:serial`, LIST `certs`.
//! - Revocation: `revoke` (by serial or certificate), `crl` (DER), `crl/pem`, `cert/crl`,
//!   `crl/rotate`, `config/crl`; every revocation rebuilds the issuer's CRL, and core's
//!   timer `crl-rebuild/<issuer id>` rebuilds it before it expires. `tidy` with
//!   `safety_buffer` and `tidy-status`; each issuer's CRL (`issuer/:ref/crl[/pem|/der]`).
//!   A role with `generate_lease` answers a lease whose revocation
//!   revokes the certificate. An OCSP responder (`ocsp`: GET with the base64 request in
//!   the path, POST with a DER body; `paths/ocsp.rs`). ACME (RFC 8555) under `acme/`
//!   once `config/acme` enables it (`acme/mod.rs`).
//!
//! The certificate, CRL, OCSP, ACME and `issuer/:ref/{pem,der,json}` paths and LIST `issuers`
//! answer without a token, as in Vault; `DELETE root` needs sudo.
//!
//! # Storage and secrets
//! Records are listed in `records.rs`; everything lives in the mount's own storage view,
//! so behind the barrier. Issuer keys are kept as PKCS#8 in a `Sensitive` field, handled in
//! `Zeroizing` buffers and never logged. Key generation (RSA above all) runs on the
//! blocking pool.
//!
//! # Differences from Vault (not yet served)
//! ACME's `key-change`, revocation signed by the certificate's key, dns-01 and
//! tls-alpn-01 and external account binding, delta CRLs, auto-tidy, key import and updates.
//! `intermediate/set-signed` and `config/ca` import the first certificate
//! with a key (its chain kept with it); Vault also imports the chain's certificates as
//! issuers of their own, without keys, and takes a certificate with no key
//! here as a keyless issuer. Roles keep and answer the fields of identity templates,
//! policy identifiers, other SANs, `allowed_serial_numbers`, `allowed_ip_sans_cidr`,
//! `not_before` and `use_pss`, but issuing does not act on them yet.

mod acme;
mod ca;
mod cert;
mod crl;
mod csr;
mod error;
mod keys;
mod leaf;
mod names;
mod paths;
mod records;
mod routes;
mod signers;

use std::sync::Arc;

use async_trait::async_trait;
use routes::{table, Route};
use secrethub_engine::{
    Engine, EngineError, LeaseInfo, MountContext, Operation, PathTable, Paths, Request, Response,
    StorageView,
};
use Operation::{Delete, Read};

struct PkiEngine {
    paths: PathTable<Route>,
    /// Held by everything that changes issuers, revocations or CRLs, so a CRL is always
    /// built from every revocation recorded before it and CRL numbers never repeat. It
    /// assumes this engine instance is the mount's only writer (standbys forward).
    crl_lock: tokio::sync::Mutex<()>,
    /// Issuers loaded to sign, kept between issues.
    signers: signers::Signers,
}

/// Builds the engine for a mount (registered as `pki`).
pub fn factory(_ctx: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
    Ok(Arc::new(PkiEngine {
        paths: table(),
        crl_lock: tokio::sync::Mutex::new(()),
        signers: signers::Signers::default(),
    }))
}

impl PkiEngine {
    async fn dispatch(&self, req: Request) -> Result<Response, error::PkiError> {
        let (route, args) = self.paths.route(&req.path, req.op).map_err(engine_to_pki)?;
        // Writes and deletes that change CRLs, and crl/rotate, a read that rebuilds them.
        let changes = route.changes_crls() && !matches!(req.op, Operation::Read | Operation::List);
        let acme_revocation = matches!(route, Route::Acme) && args.get("rest") == "revoke-cert";
        let _serialised = if changes || acme_revocation || matches!(route, Route::CrlRotate) {
            Some(self.crl_lock.lock().await)
        } else {
            None
        };
        use Route::*;
        match (route, req.op) {
            (RootGenerate, _) => paths::root::generate(&req, args.get("exported")).await,
            (Root, _) => paths::root::delete(&req).await,
            (IntermediateGenerate, _) => {
                paths::intermediate::generate(&req, args.get("exported")).await
            }
            (SignIntermediate, _) => paths::intermediate::sign(&req, args.get("ref")).await,
            (SetSigned, _) => paths::intermediate::set_signed(&req).await,
            (SignSelfIssued, _) => paths::self_issued::sign(&req, args.get("ref")).await,
            (Keys, _) => paths::keys::list(&req).await,
            (Key, _) => paths::keys::read(&req, args.get("ref")).await,
            (Ca, _) => paths::issuers::default_cert(&req, paths::issuers::Form::Der).await,
            (CaPem, _) => paths::issuers::default_cert(&req, paths::issuers::Form::Pem).await,
            (CaChain, _) => paths::issuers::default_cert(&req, paths::issuers::Form::Chain).await,
            (Cert, _) => paths::certs::read(&req, args.get("serial")).await,
            (Certs, _) => paths::certs::list(&req).await,
            (Issuers, _) => paths::issuers::list(&req).await,
            (Issuer, Read) => paths::issuers::read(&req, args.get("ref")).await,
            (Issuer, Delete) => paths::issuers::delete(&req, args.get("ref")).await,
            (Issuer, _) => paths::issuers::update(&req, args.get("ref")).await,
            (IssuerPem, _) => paths::issuers::fetch(&req, args.get("ref"), "pem").await,
            (IssuerDer, _) => paths::issuers::fetch(&req, args.get("ref"), "der").await,
            (IssuerJson, _) => paths::issuers::fetch(&req, args.get("ref"), "json").await,
            (ConfigIssuers, Read) => paths::issuers::read_config(&req).await,
            (ConfigIssuers, _) => paths::issuers::write_config(&req).await,
            (ConfigAcme, Read) => acme::read_acme(&req).await,
            (ConfigAcme, _) => acme::write_acme(&req).await,
            (ConfigCluster, Read) => acme::read_cluster(&req).await,
            (ConfigCluster, _) => acme::write_cluster(&req).await,
            (Acme, _) => acme::handle(&req, &self.signers, args.get("rest")).await,
            (ConfigCa, _) => paths::import::config_ca(&req).await,
            (ConfigCrl, Read) => paths::config::read_crl(&req).await,
            (ConfigCrl, _) => paths::config::write_crl(&req).await,
            (ConfigUrls, Read) => paths::config::read_urls(&req).await,
            (ConfigUrls, _) => paths::config::write_urls(&req).await,
            (Roles, _) => paths::roles::list(&req).await,
            (Role, Read) => paths::roles::read(&req, args.get("name")).await,
            (Role, Delete) => paths::roles::delete(&req, args.get("name")).await,
            (Role, _) => paths::roles::write(&req, args.get("name")).await,
            (Issue, _) => {
                let (issuer, role) = (args.get("ref"), args.get("role"));
                paths::issue::issue(&req, &self.signers, issuer, role).await
            }
            (Sign, _) => {
                let (issuer, role) = (args.get("ref"), args.get("role"));
                paths::issue::sign(&req, &self.signers, issuer, role).await
            }
            (SignVerbatim, _) => {
                let (issuer, role) = (args.get("ref"), args.get("role"));
                paths::issue::sign_verbatim(&req, &self.signers, issuer, role).await
            }
            (IssuerCrl, _) => {
                paths::revoke::issuer_crl(&req, args.get("ref"), args.get("format")).await
            }
            (Revoke, _) => paths::revoke::revoke(&req).await,
            (Crl, _) => paths::revoke::default_crl(&req, false).await,
            (CrlPem, _) => paths::revoke::default_crl(&req, true).await,
            (Ocsp, _) => paths::ocsp::post(&req).await,
            (OcspGet, _) => paths::ocsp::get(&req, args.get("request")).await,
            (CrlRotate, _) => paths::revoke::rotate(&req).await,
            (Tidy, _) => paths::tidy::tidy(&req).await,
            (TidyStatus, _) => paths::tidy::status(&req).await,
        }
    }
}

/// Routing errors keep their meaning (404, 405) through the engine's own error type.
fn engine_to_pki(e: EngineError) -> error::PkiError {
    match e {
        EngineError::BadRequest(m) => error::PkiError::Invalid(m),
        other => error::PkiError::Engine(other),
    }
}

#[async_trait]
impl Engine for PkiEngine {
    async fn handle(&self, req: Request) -> Result<Response, EngineError> {
        self.dispatch(req).await.map_err(|e| {
            if e.kind() == secrethub_common::ErrorKind::Internal {
                tracing::error!(error = ?e, "pki request failed");
            }
            e.into()
        })
    }

    fn paths(&self) -> Option<&dyn Paths> {
        Some(&self.paths)
    }

    /// `crl-rebuild/<issuer id>`: keeps that issuer's CRL from expiring.
    async fn on_timer(
        &self,
        key: &str,
        storage: &StorageView,
    ) -> Result<secrethub_engine::TimerOutcome, EngineError> {
        match key.strip_prefix(crl::TIMER_PREFIX) {
            Some(issuer_id) => {
                let _serialised = self.crl_lock.lock().await;
                crl::on_timer(storage, issuer_id).await.map_err(Into::into)
            }
            None => Ok(secrethub_engine::TimerOutcome::NotDue { next: None }),
        }
    }

    /// A `generate_lease` certificate's lease: revoking it revokes the certificate.
    async fn revoke(&self, lease: &LeaseInfo, storage: &StorageView) -> Result<(), EngineError> {
        let Some(serial) = lease.internal.get("serial_number").and_then(|v| v.as_str()) else {
            return Ok(());
        };
        let _serialised = self.crl_lock.lock().await;
        paths::revoke::revoke_serial(storage, serial, true)
            .await
            .map(|_| ())
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests;
