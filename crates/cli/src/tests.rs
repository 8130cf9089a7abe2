//! Tests of the command tree: Vault-style argument spellings parse into the right commands.

use super::*;

fn parse(args: &[&str]) -> Cli {
    let argv = argv::normalize(
        std::iter::once("secrethub")
            .chain(args.iter().copied())
            .map(Into::into),
    );
    match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(err) => panic!("{args:?} should parse: {err}"),
    }
}

fn parse_err(args: &[&str]) -> clap::Error {
    let argv = argv::normalize(
        std::iter::once("secrethub")
            .chain(args.iter().copied())
            .map(Into::into),
    );
    match Cli::try_parse_from(argv) {
        Ok(_) => panic!("{args:?} should not parse"),
        Err(err) => err,
    }
}

#[test]
fn global_flags_work_before_and_after_the_command() {
    let cli = parse(&[
        "-address=http://h:1",
        "kv",
        "get",
        "-format=json",
        "-field=password",
        "secret/app",
    ]);
    assert_eq!(cli.global.address.as_deref(), Some("http://h:1"));
    assert_eq!(cli.global.format, Some(Format::Json));
    let Command::Kv { .. } = cli.command else {
        panic!("kv command expected")
    };
    let cli = parse(&["status", "-tls-skip-verify"]);
    assert_eq!(cli.global.tls_skip_verify, Some(true));
    let cli = parse(&["status", "-tls-skip-verify=false", "-ca-cert", "/ca.pem"]);
    assert_eq!(cli.global.tls_skip_verify, Some(false));
    assert_eq!(cli.global.ca_cert, Some(PathBuf::from("/ca.pem")));
}

#[test]
fn server_flags_become_server_args() {
    let cli = parse(&[
        "server",
        "-dev",
        "-dev-root-token-id=root",
        "-dev-listen-address",
        "127.0.0.1:0",
    ]);
    let Command::Server(cmd) = cli.command else {
        panic!("server command expected")
    };
    let args = ServerArgs::from_command(cmd, Default::default());
    assert!(args.dev);
    assert_eq!(args.dev_listen_address, "127.0.0.1:0");
    assert_eq!(args.dev_root_token_id.as_deref(), Some("root"));
    assert!(
        !format!("{args:?}").contains("\"root\""),
        "the root token id is redacted"
    );
    let cli = parse(&["server", "-config=/etc/secrethub.hcl"]);
    let Command::Server(cmd) = cli.command else {
        panic!("server command expected")
    };
    let args = ServerArgs::from_command(cmd, Default::default());
    assert_eq!(args.config, Some(PathBuf::from("/etc/secrethub.hcl")));
    assert_eq!(args.dev_listen_address, "127.0.0.1:8200");
}

#[test]
fn server_runs_through_the_injected_runner() {
    fn runner(args: ServerArgs) -> anyhow::Result<()> {
        anyhow::ensure!(args.dev, "dev expected");
        Ok(())
    }
    fn failing(_: ServerArgs) -> anyhow::Result<()> {
        anyhow::bail!("listener failed")
    }
    assert_eq!(
        run_cli(parse(&["server", "-dev"]), Env::default(), runner),
        0
    );
    assert_eq!(
        run_cli(parse(&["server", "-dev"]), Env::default(), failing),
        1
    );
}

#[test]
fn the_server_gets_the_checked_environment() {
    fn needs_postgres(args: ServerArgs) -> anyhow::Result<()> {
        anyhow::ensure!(args.env.storage.is_some(), "DATABASE_URL expected");
        let interval = args.env.lease_cleanup_interval;
        anyhow::ensure!(interval == Some(std::time::Duration::from_secs(10)));
        Ok(())
    }
    fn never(_: ServerArgs) -> anyhow::Result<()> {
        panic!("the server must not start with a bad variable")
    }
    let env = Env::from_pairs(&[
        ("DATABASE_URL", "postgresql://secrethub@db/secrethub"),
        ("LEASE_CLEANUP_INTERVAL", "10000"),
    ]);
    assert_eq!(run_cli(parse(&["server"]), env, needs_postgres), 0);
    let bad = Env::from_pairs(&[("LEASE_CLEANUP_INTERVAL", "10s")]);
    assert_eq!(run_cli(parse(&["server"]), bad, never), 1);
}

#[test]
fn vault_command_shapes_parse() {
    for args in [
        &["operator", "init", "-key-shares", "1", "-key-threshold=1"][..],
        &["operator", "unseal", "-reset"],
        &["operator", "key-status"],
        &["write", "-f", "sys/rotate"],
        &["write", "secret/x", "a=1", "b=@file", "-"],
        &["kv", "put", "-cas=0", "-mount=secret", "app", "k=v"],
        &["kv", "delete", "-versions=1,2", "secret/app"],
        &[
            "kv",
            "metadata",
            "put",
            "-max-versions=5",
            "-custom-metadata=team=ops",
            "secret/app",
        ],
        &["secrets", "enable", "-path=kv2", "-version=2", "kv"],
        &["secrets", "list", "-detailed"],
        &["policy", "write", "dev", "-"],
        &[
            "token",
            "create",
            "-policy=a",
            "-policy=b",
            "-orphan",
            "-renewable=false",
        ],
        &["token", "revoke", "-mode=orphan", "t"],
        &["token", "capabilities", "tok", "secret/x"],
        &["audit", "enable", "file", "file_path=/tmp/a.log"],
        &["audit", "verify", "/tmp/a.log"],
        &["audit", "verify", "-device=file"],
        &["login", "-method=token", "-no-store", "tok"],
        &["lease", "lookup", "database/creds/ro/abc"],
        &[
            "lease",
            "renew",
            "-increment=1h",
            "-format=json",
            "database/creds/ro/abc",
        ],
        &["lease", "renew", "-i", "90", "database/creds/ro/abc"],
        &[
            "lease",
            "revoke",
            "-prefix",
            "-sync=true",
            "database/creds/ro",
        ],
        &["lease", "revoke", "-f", "-prefix", "database/"],
        &["lease", "list"],
        &["read", "database/creds/ro", "ttl=1h"],
    ] {
        parse(args);
    }
}

#[test]
fn usage_errors_are_reported_by_clap() {
    assert_eq!(
        parse_err(&["kv", "get"]).kind(),
        clap::error::ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        parse_err(&["nonsense"]).kind(),
        clap::error::ErrorKind::InvalidSubcommand
    );
    assert!(parse_err(&["-format=xml", "status"]).use_stderr());
    assert_eq!(
        parse_err(&["lease", "revoke", "-sync=maybe", "x"]).kind(),
        clap::error::ErrorKind::InvalidValue
    );
    assert_eq!(
        parse_err(&["lease", "lookup"]).kind(),
        clap::error::ErrorKind::MissingRequiredArgument
    );
}

#[test]
fn failures_carry_vaults_exit_codes() {
    assert_eq!(Failure::local("x").code, 1);
    assert_eq!(Failure::remote("x").code, 2);
}
