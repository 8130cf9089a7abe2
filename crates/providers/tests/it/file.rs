//! The `file` provider on real files: YAML maps and scalars, dotenv keys, edits picked up when
//! the file's modification time changes, and what a missing or broken file gives.

use std::path::Path;
use std::time::{Duration, SystemTime};

use secrethub_config::agent::{FileFormat, FileProviderConfig};
use secrethub_providers::{FileProvider, Provider, ProviderErrorKind};

fn provider(path: &Path, format: FileFormat) -> FileProvider {
    FileProvider::new(
        "dev",
        &FileProviderConfig {
            path: path.to_path_buf(),
            format,
        },
    )
}

/// Writes `text` and moves the modification time to `at`, so an edit is seen as one even on a
/// file system with coarse timestamps.
fn write_at(path: &Path, text: &str, at: SystemTime) {
    std::fs::write(path, text).expect("write");
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open");
    file.set_modified(at).expect("set mtime");
}

#[tokio::test]
async fn yaml_maps_give_fields_and_scalars_give_a_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("secrets.yaml");
    std::fs::write(
        &path,
        "app:\n  db:\n    user: app\n    password: yaml-pw\n    port: 5432\n    replica:\n      host: r1\n  token: yaml-token\n",
    )
    .expect("write");
    let provider = provider(&path, FileFormat::Yaml);
    let db = provider.read("app/db").await.expect("map");
    assert_eq!(
        db.fields.keys().collect::<Vec<_>>(),
        vec!["password", "port", "user"]
    );
    assert_eq!(db.fields["password"].expose(), "yaml-pw");
    assert_eq!(db.fields["port"].expose(), "5432");
    let replica = provider.read("app/db/replica").await.expect("nested map");
    assert_eq!(replica.fields["host"].expose(), "r1");
    let token = provider.read("/app/token").await.expect("scalar");
    assert_eq!(token.fields["value"].expose(), "yaml-token");
    assert_eq!((token.version, token.lease), (None, None));
    for missing in ["app/nope", "app/token/deeper", "nope"] {
        let err = provider.read(missing).await.unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::NotFound, "{missing}: {err}");
    }
    assert!(provider.health().await.healthy);
}

#[tokio::test]
async fn dotenv_keys_are_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(".env");
    std::fs::write(
        &path,
        "# dev secrets\nexport DB_PASSWORD=\"dotenv pw\"\nAPI_KEY=abc123 # comment\n",
    )
    .expect("write");
    let provider = provider(&path, FileFormat::Dotenv);
    let secret = provider.read("DB_PASSWORD").await.expect("read");
    assert_eq!(secret.fields["value"].expose(), "dotenv pw");
    let key = provider.read("API_KEY").await.expect("read");
    assert_eq!(key.fields["value"].expose(), "abc123");
    let err = provider.read("MISSING").await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::NotFound);
}

#[tokio::test]
async fn edits_are_picked_up_when_the_mtime_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dev.env");
    let t0 = SystemTime::now() - Duration::from_secs(60);
    write_at(&path, "TOKEN=first\n", t0);
    let provider = provider(&path, FileFormat::Dotenv);
    assert_eq!(
        provider.read("TOKEN").await.expect("read").fields["value"].expose(),
        "first"
    );
    write_at(&path, "TOKEN=second\nNEW=1\n", t0 + Duration::from_secs(1));
    assert_eq!(
        provider.read("TOKEN").await.expect("read").fields["value"].expose(),
        "second"
    );
    assert!(provider.read("NEW").await.is_ok());
}

#[tokio::test]
async fn missing_and_broken_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("absent.yaml");
    let provider = provider(&path, FileFormat::Yaml);
    let err = provider.read("a").await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Unavailable, "{err}");
    assert!(!provider.health().await.healthy);

    std::fs::write(&path, "a: [broken-secret-value\n").expect("write");
    let err = provider.read("a").await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Invalid, "{err}");
    assert!(!err.to_string().contains("broken-secret-value"), "{err}");
}
