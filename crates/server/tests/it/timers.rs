//! Core's engine timers through a small engine of the tests' own (`test-timers`): a job set
//! through a request runs when due, a failing run is retried with backoff until it
//! succeeds, every run leaves an audit entry by `secrethub-scheduler` (with the error when it
//! failed), a timer set again moves rather than runs twice, and a timer survives a seal and
//! unseal (it lives in storage, not in memory).

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::StatusCode;
use secrethub_common::{now_unix, UnixTime};
use secrethub_engine::{
    Engine, EngineError, MountContext, Operation, PathTable, Request, Response, StorageView,
    TimerOutcome,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::harness::{eventually, unique, TestServer};

/// A job: when it is due, how many runs fail first, and what happened so far.
#[derive(Serialize, Deserialize, Default)]
struct Job {
    due_at: UnixTime,
    fail_left: u32,
    failures: u32,
    runs: u32,
}

struct TimerEngine {
    paths: PathTable<()>,
}

pub(crate) fn factory(_: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
    Ok(Arc::new(TimerEngine {
        paths: PathTable::new().add(
            "jobs/{name}",
            (),
            &[Operation::Read, Operation::Update],
            "a job run by a timer",
        ),
    }))
}

#[async_trait]
impl Engine for TimerEngine {
    async fn handle(&self, req: Request) -> Result<Response, EngineError> {
        let (_, args) = self.paths.route(&req.path, req.op)?;
        let key = format!("jobs/{}", args.get("name"));
        if req.op == Operation::Read {
            let job: Job = req
                .storage
                .get_json(&key)
                .await?
                .ok_or(EngineError::NotFound)?;
            let data = json!({"runs": job.runs, "failures": job.failures});
            return Ok(Response::data(
                data.as_object().cloned().unwrap_or_default(),
            ));
        }
        let due_in: i64 = req.field("due_in")?.unwrap_or(0);
        let mut job: Job = req.storage.get_json(&key).await?.unwrap_or_default();
        job.due_at = now_unix() + due_in;
        job.fail_left = req.field("fail_times")?.unwrap_or(0);
        req.storage.put_json(&key, &job).await?;
        req.schedule(&key, job.due_at).await?;
        Ok(Response::empty())
    }

    async fn on_timer(
        &self,
        key: &str,
        storage: &StorageView,
    ) -> Result<TimerOutcome, EngineError> {
        let Some(mut job) = storage.get_json::<Job>(key).await? else {
            return Ok(TimerOutcome::NotDue { next: None });
        };
        if now_unix() < job.due_at {
            return Ok(TimerOutcome::NotDue {
                next: Some(job.due_at),
            });
        }
        if job.fail_left > 0 {
            job.fail_left -= 1;
            job.failures += 1;
            storage.put_json(key, &job).await?;
            return Err(EngineError::Upstream {
                what: "the test upstream".into(),
                source: anyhow::anyhow!("connection refused"),
            });
        }
        job.runs += 1;
        storage.put_json(key, &job).await?;
        Ok(TimerOutcome::Ran { next: None })
    }
}

async fn server_with_mount() -> (TestServer, String) {
    let t = TestServer::dev().await;
    let mount = unique("jobs");
    let (s, v) = t
        .root(
            "POST",
            &format!("sys/mounts/{mount}"),
            Some(json!({"type": "test-timers"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    (t, mount)
}

async fn job(t: &TestServer, mount: &str, name: &str) -> Value {
    let (s, v) = t.root("GET", &format!("{mount}/jobs/{name}"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"].clone()
}

#[tokio::test]
async fn a_due_timer_runs_and_a_failed_run_is_retried_and_audited() {
    let (t, mount) = server_with_mount().await;
    let (_dir, audit_file) = t.audit_to_file().await;

    let (s, v) = t
        .root(
            "PUT",
            &format!("{mount}/jobs/nightly"),
            Some(json!({"due_in": 1, "fail_times": 2})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    eventually("the job ran after two failed runs", || async {
        job(&t, &mount, "nightly").await["runs"] == json!(1)
    })
    .await;
    assert_eq!(job(&t, &mount, "nightly").await["failures"], json!(2));

    let audit = std::fs::read_to_string(&audit_file).unwrap();
    let path = format!("{mount}/jobs/nightly");
    let runs: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["request"]["path"] == json!(path))
        .filter(|e| e["auth"]["display_name"] == "secrethub-scheduler")
        .collect();
    assert_eq!(runs.len(), 3, "{audit}");
    assert!(runs.iter().all(|e| e["request"]["operation"] == "update"));
    let errors: Vec<&Value> = runs.iter().map(|e| &e["error"]).collect();
    assert_eq!(
        errors,
        [
            &json!("upstream error: the test upstream"),
            &json!("upstream error: the test upstream"),
            &Value::Null
        ]
    );
}

#[tokio::test]
async fn a_timer_set_again_moves_and_survives_a_seal() {
    let (t, mount) = server_with_mount().await;
    // Set for an hour from now, then moved to now: it runs once, at the new time.
    for due_in in [3600, 0] {
        let (s, v) = t
            .root(
                "PUT",
                &format!("{mount}/jobs/moved"),
                Some(json!({ "due_in": due_in })),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    }
    eventually("the moved job ran", || async {
        job(&t, &mount, "moved").await["runs"] == json!(1)
    })
    .await;

    // A timer set before a seal runs after the unseal.
    let (s, _) = t
        .root(
            "PUT",
            &format!("{mount}/jobs/sealed"),
            Some(json!({"due_in": 2})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = t.root("PUT", "sys/seal", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = t
        .req(
            "PUT",
            "sys/unseal",
            None,
            Some(json!({"key": t.unseal_key})),
        )
        .await;
    assert_eq!((s, v["sealed"].clone()), (StatusCode::OK, json!(false)));
    eventually("the job set before the seal ran", || async {
        job(&t, &mount, "sealed").await["runs"] == json!(1)
    })
    .await;
    assert_eq!(job(&t, &mount, "moved").await["runs"], json!(1));
}
