//! The driver's clients: options from the connection URL (credentials filled in) and the
//! plugin's settings (pool size, time limits, admin credentials, TLS files), and `tls_ca` and
//! `tls_certificate_key` written to a private directory, since the driver reads only files.

use std::path::PathBuf;
use std::time::Duration;

use mongodb::options::{
    AuthMechanism, ClientOptions, ConnectionString, Credential, Tls, TlsOptions,
};
use mongodb::Client;
use zeroize::Zeroizing;

/// Server selection and connection timeouts when the URL sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the clients are made from.
pub(crate) struct Settings {
    /// The connection URL with the admin credentials filled in.
    pub(crate) url: Zeroizing<String>,
    pub(crate) username: String,
    pub(crate) password: Zeroizing<String>,
    /// Where the admin user lives.
    pub(crate) auth_db: String,
    pub(crate) tls_ca: String,
    pub(crate) tls_certificate_key: Zeroizing<String>,
}

/// `tls_ca` and `tls_certificate_key` written out for the driver, deleted on drop.
pub(crate) struct TlsFiles {
    _dir: tempfile::TempDir,
    pub(crate) ca: Option<PathBuf>,
    pub(crate) certificate_key: Option<PathBuf>,
}

/// Writes the PEM texts into a new private directory.
pub(crate) fn write_tls_files(ca: &str, certificate_key: &str) -> std::io::Result<TlsFiles> {
    let dir = tempfile::Builder::new()
        .prefix("secrethub-mongodb-")
        .tempdir()?;
    let write = |name: &str, text: &str| -> std::io::Result<Option<PathBuf>> {
        if text.is_empty() {
            return Ok(None);
        }
        let path = dir.path().join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        std::io::Write::write_all(&mut options.open(&path)?, text.as_bytes())?;
        Ok(Some(path))
    };
    Ok(TlsFiles {
        ca: write("ca.pem", ca)?,
        certificate_key: write("certificate-key.pem", certificate_key)?,
        _dir: dir,
    })
}

/// A client with a pool of `pool_size` (no IO: the driver connects on first use).
pub(crate) async fn connect(
    settings: &Settings,
    tls_files: Option<&TlsFiles>,
    pool_size: u32,
) -> mongodb::error::Result<Client> {
    let connection = ConnectionString::parse(settings.url.as_str())?;
    let mut options = ClientOptions::parse(connection).await?;
    options.app_name = Some("secrethub".into());
    options.max_pool_size = Some(pool_size);
    options
        .server_selection_timeout
        .get_or_insert(CONNECT_TIMEOUT);
    options.connect_timeout.get_or_insert(CONNECT_TIMEOUT);
    if let Some(files) = tls_files {
        let mut tls = match options.tls.take() {
            Some(Tls::Enabled(t)) => t,
            _ => TlsOptions::default(),
        };
        if files.ca.is_some() {
            tls.ca_file_path = files.ca.clone();
        }
        if files.certificate_key.is_some() {
            tls.cert_key_file_path = files.certificate_key.clone();
        }
        options.tls = Some(Tls::Enabled(tls));
    }
    if options.credential.is_none() {
        if !settings.username.is_empty() {
            let mut c = Credential::default();
            c.username = Some(settings.username.clone());
            c.password = Some(settings.password.to_string());
            c.source = Some(settings.auth_db.clone());
            options.credential = Some(c);
        } else if tls_files.is_some_and(|f| f.certificate_key.is_some()) {
            let mut c = Credential::default();
            c.mechanism = Some(AuthMechanism::MongoDbX509);
            options.credential = Some(c);
        }
    }
    Client::with_options(options)
}
