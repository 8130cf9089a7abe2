//! The embedded database file: the default storage of a real server (no external service).
//!
//! One redb file with one table, `kv` (`&str` → `&[u8]`). redb is synchronous, so:
//! - writes go to one dedicated writer thread, which commits (and fsyncs) every write queued
//!   while the previous commit was running in a single transaction: group commit, so N
//!   concurrent writers cost one fsync instead of N, and the async runtime never blocks on disk;
//! - point reads run inline: a read transaction is a snapshot of already-committed pages and
//!   never waits for the writer, and one key is a few page lookups from redb's cache;
//! - large listings go to the blocking pool, so no read holds a runtime thread for long.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use async_trait::async_trait;
use redb::{Database, DatabaseError, TableDefinition};
use tokio::sync::oneshot;

use crate::{validate_key, Storage, StorageError, WriteOp};

const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");

/// Listings of at most this many keys run inline; larger pages go to the blocking pool.
const INLINE_LIST_LIMIT: usize = 128;

/// Upper bound on the writes folded into one commit, so a flood of writers can't make one
/// transaction (and the memory it dirties) grow without limit.
const MAX_GROUP: usize = 512;

/// redb's own page cache. Its default (1 GiB) would let a store with a million leases grow
/// the process by its whole B-tree after one scan; pages beyond this come from the OS page
/// cache, which the kernel can reclaim.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// A single-file ACID store (redb). Holds an exclusive lock on the file while open; dropping
/// it waits for queued writes to commit and releases the file.
pub struct EmbeddedStorage {
    db: Arc<Database>,
    path: PathBuf,
    // `Option` so `Drop` can close the queue and join the thread.
    writer: Option<Writer>,
}

struct Writer {
    queue: mpsc::Sender<Job>,
    thread: JoinHandle<()>,
}

/// One caller's atomic batch and where to report its outcome.
struct Job {
    batch: Vec<WriteOp>,
    done: oneshot::Sender<Result<(), StorageError>>,
}

impl EmbeddedStorage {
    /// Opens (or creates) the database file at `path`. The directory must already exist.
    /// Fails with `Unavailable` if another process (or another `EmbeddedStorage`) has the file
    /// open. This is blocking IO (and may repair the file after a crash): call it at startup.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let shown = path.display();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(StorageError::unavailable(
                format!("cannot open storage file {shown}"),
                anyhow::anyhow!("directory {} does not exist", dir.display()),
            ));
        }
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| match e {
                DatabaseError::DatabaseAlreadyOpen => StorageError::unavailable(
                    format!("storage file {shown} is already in use by another process"),
                    e,
                ),
                other => {
                    StorageError::unavailable(format!("cannot open storage file {shown}"), other)
                }
            })?;
        // Create the table up front so readers can rely on it existing.
        let txn = db.begin_write().map_err(unavailable("begin write"))?;
        txn.open_table(KV).map_err(unavailable("create table"))?;
        txn.commit().map_err(unavailable("commit"))?;

        let db = Arc::new(db);
        let (queue, jobs) = mpsc::channel();
        let writer_db = Arc::clone(&db);
        let thread = std::thread::Builder::new()
            .name("secrethub-storage-writer".into())
            .spawn(move || write_loop(&writer_db, &jobs))
            .map_err(|e| StorageError::unavailable("cannot start storage writer thread", e))?;
        Ok(Self {
            db,
            path: path.to_path_buf(),
            writer: Some(Writer { queue, thread }),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn write(&self, batch: Vec<WriteOp>) -> Result<(), StorageError> {
        let (done, outcome) = oneshot::channel();
        let stopped = || {
            StorageError::unavailable(
                "storage writer stopped",
                anyhow::anyhow!("the writer thread is gone"),
            )
        };
        let writer = self.writer.as_ref().ok_or_else(stopped)?;
        writer
            .queue
            .send(Job { batch, done })
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

impl Drop for EmbeddedStorage {
    fn drop(&mut self) {
        if let Some(Writer { queue, thread }) = self.writer.take() {
            // Closing the queue ends the loop once queued jobs are committed; joining makes
            // sure the file lock is released by the time `drop` returns, so it can be reopened.
            drop(queue);
            let _ = thread.join();
        }
    }
}

/// Maps a redb error to `Unavailable`, naming the operation.
fn unavailable<E>(what: &'static str) -> impl FnOnce(E) -> StorageError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| StorageError::unavailable(format!("embedded storage: {what} failed"), e)
}

fn write_loop(db: &Database, jobs: &mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if group.len() > 1 && commit(db, group.iter().map(|j| &j.batch)).is_ok() {
            for job in group {
                // The caller may have given up waiting; the write is committed regardless.
                let _ = job.done.send(Ok(()));
            }
            continue;
        }
        // A single job, or a group that failed: commit each on its own so one bad batch
        // fails alone and the others still get their own attempt.
        for job in group {
            let _ = job.done.send(commit(db, std::iter::once(&job.batch)));
        }
    }
}

/// Applies `batches` in one write transaction; on any error nothing is committed (dropping
/// an uncommitted redb transaction aborts it).
fn commit<'a>(
    db: &Database,
    batches: impl Iterator<Item = &'a Vec<WriteOp>>,
) -> Result<(), StorageError> {
    let txn = db.begin_write().map_err(unavailable("begin write"))?;
    {
        let mut table = txn.open_table(KV).map_err(unavailable("open table"))?;
        for op in batches.flatten() {
            match op {
                WriteOp::Put { key, value } => {
                    table
                        .insert(key.as_str(), value.as_slice())
                        .map_err(unavailable("insert"))?;
                }
                WriteOp::Delete { key } => {
                    table.remove(key.as_str()).map_err(unavailable("remove"))?;
                }
            }
        }
    }
    txn.commit().map_err(unavailable("commit"))
}

fn read_one(db: &Database, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
    let txn = db.begin_read().map_err(unavailable("begin read"))?;
    let table = txn.open_table(KV).map_err(unavailable("open table"))?;
    let value = table.get(key).map_err(unavailable("get"))?;
    Ok(value.map(|v| v.value().to_vec()))
}

/// Counts the keys under `prefix` in one read transaction (a snapshot).
fn read_count(db: &Database, prefix: &str) -> Result<usize, StorageError> {
    let txn = db.begin_read().map_err(unavailable("begin read"))?;
    let table = txn.open_table(KV).map_err(unavailable("open table"))?;
    let mut n = 0;
    for entry in table
        .range::<&str>((Bound::Included(prefix), Bound::Unbounded))
        .map_err(unavailable("range"))?
    {
        let (key, _) = entry.map_err(unavailable("range"))?;
        if !key.value().starts_with(prefix) {
            break;
        }
        n += 1;
    }
    Ok(n)
}

fn read_list(
    db: &Database,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<String>, StorageError> {
    let txn = db.begin_read().map_err(unavailable("begin read"))?;
    let table = txn.open_table(KV).map_err(unavailable("open table"))?;
    let start_key;
    let start = match after {
        Some(a) => {
            start_key = format!("{prefix}{a}");
            Bound::Excluded(start_key.as_str())
        }
        None => Bound::Included(prefix),
    };
    let mut out = Vec::with_capacity(limit.min(INLINE_LIST_LIMIT));
    for entry in table
        .range::<&str>((start, Bound::Unbounded))
        .map_err(unavailable("range"))?
    {
        let (key, _) = entry.map_err(unavailable("range"))?;
        let Some(rest) = key.value().strip_prefix(prefix) else {
            break;
        };
        out.push(rest.to_string());
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

#[async_trait]
impl Storage for EmbeddedStorage {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        validate_key(key)?;
        read_one(&self.db, key)
    }

    async fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        validate_key(key)?;
        self.write(vec![WriteOp::Put {
            key: key.to_string(),
            value: value.to_vec(),
        }])
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        self.write(vec![WriteOp::Delete {
            key: key.to_string(),
        }])
        .await
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        validate_key(prefix)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        if limit <= INLINE_LIST_LIMIT {
            return read_list(&self.db, prefix, after, limit);
        }
        let db = Arc::clone(&self.db);
        let prefix = prefix.to_string();
        let after = after.map(str::to_string);
        tokio::task::spawn_blocking(move || read_list(&db, &prefix, after.as_deref(), limit))
            .await
            .map_err(|e| StorageError::unavailable("embedded storage: list task failed", e))?
    }

    async fn count(&self, prefix: &str) -> Result<usize, StorageError> {
        validate_key(prefix)?;
        let db = Arc::clone(&self.db);
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || read_count(&db, &prefix))
            .await
            .map_err(|e| StorageError::unavailable("embedded storage: count task failed", e))?
    }

    async fn apply(&self, batch: Vec<WriteOp>) -> Result<(), StorageError> {
        // Validate everything before queueing, so a bad key changes nothing.
        for op in &batch {
            validate_key(op.key())?;
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.write(batch).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StorageErrorKind;

    fn db_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("secrethub.db")
    }

    #[tokio::test]
    async fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let s = EmbeddedStorage::open(&db_path(&dir)).unwrap();
        crate::testsuite::run(&s).await;
    }

    #[tokio::test]
    async fn data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let s = EmbeddedStorage::open(&path).unwrap();
        s.put("a/1", b"one").await.unwrap();
        s.apply(vec![
            WriteOp::Put {
                key: "a/2".into(),
                value: b"two".to_vec(),
            },
            WriteOp::Put {
                key: "b".into(),
                value: b"gone".to_vec(),
            },
        ])
        .await
        .unwrap();
        s.delete("b").await.unwrap();
        drop(s);

        let s = EmbeddedStorage::open(&path).unwrap();
        assert_eq!(s.get("a/1").await.unwrap().as_deref(), Some(&b"one"[..]));
        assert_eq!(s.get("a/2").await.unwrap().as_deref(), Some(&b"two"[..]));
        assert_eq!(s.get("b").await.unwrap(), None);
        assert_eq!(s.list("a/", None, 10).await.unwrap(), ["1", "2"]);
    }

    #[tokio::test]
    async fn second_open_of_same_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let _first = EmbeddedStorage::open(&path).unwrap();
        let err = EmbeddedStorage::open(&path).err().expect("file is locked");
        assert_eq!(err.kind, StorageErrorKind::Unavailable);
        assert!(err.message().contains("already in use"), "{err}");
    }

    #[tokio::test]
    async fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("secrethub.db");
        let err = EmbeddedStorage::open(&path).err().expect("no directory");
        assert_eq!(err.kind, StorageErrorKind::Unavailable);
        let chain = format!("{:#}", anyhow::Error::from(err));
        assert!(chain.contains("does not exist"), "{chain}");
        assert!(
            !path.parent().unwrap().exists(),
            "must not create directories"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(EmbeddedStorage::open(&db_path(&dir)).unwrap());
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let s = Arc::clone(&s);
            tasks.spawn(async move {
                let key = format!("c/{i:04}");
                s.put(&key, key.as_bytes()).await.unwrap();
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        // 200 keys is above the inline limit, so this also exercises the blocking-pool path.
        let keys = s.list("c/", None, 1000).await.unwrap();
        assert_eq!(keys.len(), 200);
        assert_eq!(keys[0], "0000");
        assert_eq!(keys[199], "0199");
        for k in ["0000", "0123", "0199"] {
            let v = s.get(&format!("c/{k}")).await.unwrap();
            assert_eq!(v.as_deref(), Some(format!("c/{k}").as_bytes()));
        }
    }
}
