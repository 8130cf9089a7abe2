//! Composition root: which engines exist, which storage a config selects, and how the
//! server process starts (dev mode or from a config file), serves, and stops.
//!
//! The environment over the file: `DATABASE_URL` replaces the config's `storage` stanza (and
//! lets the server start without a config file, with the default listener); `-dev` always
//! keeps its data in memory and ignores it. `LEASE_CLEANUP_INTERVAL` bounds the lease expiry
//! scheduler's sleep between looks at its due index.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use secrethub_cli::ServerArgs;
use secrethub_config::{ListenerConfig, ServerConfig, StorageConfig};
use secrethub_core::{Core, CoreConfig, CoreRequest, EngineRegistry, Method};
use secrethub_server::{Listener, ListenerLimits, TlsFiles};
use secrethub_storage::Storage;
use tokio_util::sync::CancellationToken;

/// Every secrets engine and auth method type this build knows.
pub(crate) fn registry() -> EngineRegistry {
    EngineRegistry::new()
        .register("kv", secrethub_kv::factory)
        .register("generic", secrethub_kv::factory)
        .register("database", secrethub_database::factory)
        .register("pki", secrethub_pki::factory)
        .register("transit", secrethub_transit::factory)
        .register_auth("approle", secrethub_auth_approle::factory)
        .register_auth("userpass", secrethub_auth_userpass::factory)
        .register_auth("jwt", secrethub_auth_jwt::factory)
        .register_auth("oidc", secrethub_auth_jwt::factory)
        .register_auth("kubernetes", secrethub_auth_kubernetes::factory)
        .register_auth("aws", secrethub_auth_aws::factory)
}

/// The one place a storage backend is chosen.
async fn open_storage(cfg: &StorageConfig) -> anyhow::Result<(Arc<dyn Storage>, &'static str)> {
    Ok(match cfg {
        StorageConfig::Memory => (Arc::new(secrethub_storage::MemoryStorage::new()), "inmem"),
        StorageConfig::Embedded { path } => {
            let path = path.clone();
            let s = tokio::task::spawn_blocking(move || {
                secrethub_storage::EmbeddedStorage::open(&path)
            })
            .await
            .context("opening the embedded storage")??;
            (Arc::new(s), "file")
        }
        StorageConfig::Postgres {
            connection_url,
            table,
            max_parallel,
        } => {
            let mut options = secrethub_storage_postgres::PostgresOptions::default();
            if let Some(t) = table {
                options.table = t.clone();
            }
            if let Some(n) = max_parallel {
                options.max_connections = *n;
            }
            let s = secrethub_storage_postgres::PostgresStorage::open_with(
                connection_url.expose(),
                &options,
            )
            .await
            .context("opening the postgresql storage")?;
            (Arc::new(s), "postgresql")
        }
    })
}

fn init_tracing(level: &str) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SECRETHUB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .finish()
        .with(tracing_subscriber::filter::filter_fn(
            not_from_the_postgres_driver,
        ))
        .try_init();
}

/// The global filter that keeps the PostgreSQL driver out of the log, at every level and
/// whatever `SECRETHUB_LOG` asks for.
///
/// tokio-postgres logs (through `log`, which `try_init` bridges into tracing) the full text of
/// every simple query and statement batch at DEBUG, and the database engine's statements carry
/// secrets there: `CREATE ROLE … PASSWORD 'SCRAM-SHA-256$4096:…'` verifiers, and the clear
/// password of a `{{password}}` used outside `PASSWORD '…'`. DDL cannot take bind parameters,
/// so sending the secrets out of band is not possible for these statements, and a directive in
/// the `EnvFilter` alone would be overridden by an operator's `SECRETHUB_LOG=trace` or
/// `tokio_postgres=debug`. This filter sits beside the `EnvFilter` as a separate global filter,
/// so no directive can turn the driver's events back on; its one INFO event relays server
/// notices, which a statement (or an extension such as pgaudit) can make echo its own text, so
/// it goes too.
fn not_from_the_postgres_driver(meta: &tracing::Metadata<'_>) -> bool {
    let target = meta.target();
    !(target == "tokio_postgres" || target.starts_with("tokio_postgres::"))
}

/// `secrethub server ...`: builds the runtime the server runs on.
pub(crate) fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(serve_command(args))
}

async fn serve_command(args: ServerArgs) -> anyhow::Result<()> {
    if args.dev {
        return run_dev(args).await;
    }
    let mut config = match (&args.config, &args.env.storage) {
        (Some(path), _) => secrethub_config::load(path)?,
        // DATABASE_URL alone: the defaults of an empty file (listener 127.0.0.1:8200).
        (None, Some(_)) => secrethub_config::parse("", std::path::Path::new("."))?,
        (None, None) => anyhow::bail!(
            "a configuration file is required: secrethub server -config server.hcl \
             (or -dev, or DATABASE_URL for PostgreSQL storage)"
        ),
    };
    init_tracing(config.log_level.as_str());
    if let Some(storage) = &args.env.storage {
        if args.config.is_some() {
            tracing::info!("storage from DATABASE_URL, over the config file's storage stanza");
        }
        config.storage = storage.clone();
    }
    let (storage, storage_type) = open_storage(&config.storage).await?;
    let mut core_config = core_config(&config, storage_type);
    if let Some(interval) = args.env.lease_cleanup_interval {
        core_config.lease_retry.scan_interval = interval;
    }
    let core = Core::new(storage, registry(), core_config);
    let mut listeners = Vec::new();
    for l in &config.listeners {
        let tls = l.tls.as_ref().map(|t| TlsFiles {
            cert_file: t.cert_file.clone(),
            key_file: t.key_file.clone(),
            min_version: t.min_version,
            cipher_suites: t.cipher_suites.clone(),
        });
        let listener = Listener::bind(l.address, tls.as_ref()).await?;
        listeners.push(listener.with_limits(listener_limits(l)));
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "==> SecretHub server configuration:\n")?;
    writeln!(out, "             Storage: {storage_type}")?;
    for l in &listeners {
        let scheme = if l.is_tls() { "https" } else { "http" };
        writeln!(out, "            Listener: {scheme}://{}", l.local_addr()?)?;
    }
    writeln!(
        out,
        "\n==> SecretHub server started! Log data will stream in below:\n"
    )?;
    drop(out);
    serve_until_signal(core, listeners).await
}

/// A `listener "tcp"` stanza's timeouts and connection limit; `-dev` uses the defaults.
fn listener_limits(l: &ListenerConfig) -> ListenerLimits {
    ListenerLimits {
        read_header_timeout: l.read_header_timeout,
        read_timeout: l.read_timeout,
        write_timeout: l.write_timeout,
        idle_timeout: l.idle_timeout,
        max_connections: l.max_connections,
    }
}

fn core_config(config: &ServerConfig, storage_type: &str) -> CoreConfig {
    let r = &config.lease_revocation;
    CoreConfig {
        default_lease_ttl: config.default_lease_ttl,
        max_lease_ttl: config.max_lease_ttl,
        storage_type: storage_type.into(),
        lease_retry: secrethub_core::LeaseRetryConfig {
            workers: r.workers,
            base_delay: r.base_delay,
            max_delay: r.max_delay,
            max_attempts: r.max_attempts,
            irrevocable_retry: r.irrevocable_retry,
            breaker_threshold: r.breaker_threshold,
            breaker_cooldown: r.breaker_cooldown,
            ..Default::default()
        },
    }
}

async fn run_dev(args: ServerArgs) -> anyhow::Result<()> {
    init_tracing("info");
    if args.env.storage.is_some() {
        tracing::warn!("DATABASE_URL is ignored: -dev keeps its data in memory");
    }
    let mut core_config = CoreConfig::default();
    if let Some(interval) = args.env.lease_cleanup_interval {
        core_config.lease_retry.scan_interval = interval;
    }
    let addr: SocketAddr = args
        .dev_listen_address
        .parse()
        .with_context(|| format!("invalid -dev-listen-address {:?}", args.dev_listen_address))?;
    let core = Core::new(
        Arc::new(secrethub_storage::MemoryStorage::new()),
        registry(),
        core_config,
    );
    let init = core.init_dev(args.dev_root_token_id.as_deref()).await?;
    let root = init.root_token.to_string();
    mount_dev_kv(&core, &root).await?;
    let listener = Listener::bind(addr, None).await?;
    let bound = listener.local_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "==> SecretHub server configuration:\n")?;
    writeln!(out, "             Api Address: http://{bound}")?;
    writeln!(out, "                 Storage: inmem")?;
    writeln!(
        out,
        "\nWARNING! dev mode is enabled! In this mode, SecretHub runs entirely in-memory"
    )?;
    writeln!(
        out,
        "and starts unsealed with a single unseal key. Do not run dev mode in production.\n"
    )?;
    writeln!(
        out,
        "You may need to set the following environment variables:\n"
    )?;
    writeln!(out, "    $ export SECRETHUB_ADDR='http://{bound}'")?;
    writeln!(
        out,
        "    $ export VAULT_ADDR='http://{bound}'   # for the bao/vault CLI and Vault client libraries\n"
    )?;
    writeln!(out, "Unseal Key: {}", init.keys_base64[0].as_str())?;
    writeln!(out, "Root Token: {root}\n")?;
    writeln!(
        out,
        "==> SecretHub server started! Log data will stream in below:"
    )?;
    out.flush()?;
    drop(out);
    serve_until_signal(core, vec![listener]).await
}

/// Dev mode mounts `secret/` as KV v2, as Vault's dev server does.
async fn mount_dev_kv(core: &Core, root: &str) -> anyhow::Result<()> {
    let body = serde_json::json!({"type": "kv", "options": {"version": "2"}, "description": "key/value secret storage"});
    let req = CoreRequest {
        id: secrethub_common::random_uuid(),
        method: Method::Write,
        path: "sys/mounts/secret".into(),
        body: body.as_object().cloned().unwrap_or_default(),
        token: Some(root.to_string().into()),
        remote_addr: None,
        wrap_ttl: None,
        lease_metadata: Default::default(),
        raw_body: None,
    };
    core.handle(req).await.context("mounting secret/")?;
    Ok(())
}

async fn serve_until_signal(core: Arc<Core>, listeners: Vec<Listener>) -> anyhow::Result<()> {
    // So the listeners' connection limits, not EMFILE, are what a flood runs into.
    secrethub_server::raise_open_file_limit();
    let shutdown = CancellationToken::new();
    let app = secrethub_server::app(core.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for l in listeners {
        tasks.spawn(secrethub_server::serve(l, app.clone(), shutdown.clone()));
    }
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = hup.recv() => match core.reopen_audit_devices() {
                Ok(()) => tracing::info!("audit devices reopened"),
                Err(e) => tracing::error!(error = %e, "reopening audit devices failed"),
            },
        }
    }
    tracing::info!("shutting down");
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    core.seal().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stanza_without_limits_gets_the_same_defaults_as_dev_mode() {
        let config = secrethub_config::parse(
            "listener \"tcp\" {\n  tls_disable = true\n}\n",
            std::path::Path::new("."),
        )
        .expect("valid config");
        assert_eq!(
            listener_limits(&config.listeners[0]),
            ListenerLimits::DEFAULT
        );
    }
}
