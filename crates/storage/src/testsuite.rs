//! The conformance suite every `Storage` implementation must pass:
//! `secrethub_storage::testsuite::run(&storage).await` panics on the first violation.
//! Keys are namespaced with a random prefix so the suite can share a real database with
//! other tests and run twice in a row.

use crate::{delete_prefix, list_all, list_children, Storage, WriteOp};

/// Runs every check against `s`. The store may already hold unrelated keys.
pub async fn run(s: &dyn Storage) {
    let ns = format!("conformance-{}/", secrethub_common::random_alnum(10));
    get_put_delete(s, &ns).await;
    binary_values(s, &ns).await;
    paged_list(s, &ns).await;
    counts(s, &ns).await;
    children(s, &ns).await;
    batches(s, &ns).await;
    rejects_bad_keys(s).await;
    delete_prefix(s, &ns).await.expect("delete_prefix");
    assert!(s.list(&ns, None, 10).await.expect("list").is_empty());
}

async fn get_put_delete(s: &dyn Storage, ns: &str) {
    let k = format!("{ns}a");
    assert_eq!(s.get(&k).await.expect("get missing"), None);
    s.put(&k, b"one").await.expect("put");
    assert_eq!(s.get(&k).await.expect("get").as_deref(), Some(&b"one"[..]));
    s.put(&k, b"two").await.expect("overwrite");
    assert_eq!(s.get(&k).await.expect("get").as_deref(), Some(&b"two"[..]));
    s.delete(&k).await.expect("delete");
    assert_eq!(s.get(&k).await.expect("get deleted"), None);
    s.delete(&k).await.expect("delete is idempotent");
}

async fn counts(s: &dyn Storage, ns: &str) {
    let base = format!("{ns}count/");
    assert_eq!(s.count(&base).await.expect("count empty"), 0);
    for i in 0..1_005 {
        s.put(&format!("{base}k{i:05}"), b"x").await.expect("put");
    }
    s.put(&format!("{base}nested/deep"), b"x")
        .await
        .expect("put nested");
    // A sibling whose name extends the prefix without the slash is not under it.
    s.put(&format!("{ns}count-other"), b"x")
        .await
        .expect("put sibling");
    assert_eq!(s.count(&base).await.expect("count"), 1_006);
    assert_eq!(
        s.count(&format!("{base}nested/"))
            .await
            .expect("count nested"),
        1
    );
    delete_prefix(s, &base).await.expect("delete_prefix");
    s.delete(&format!("{ns}count-other")).await.expect("delete");
    assert_eq!(s.count(&base).await.expect("count after delete"), 0);
}

async fn binary_values(s: &dyn Storage, ns: &str) {
    let k = format!("{ns}bin");
    let v: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
    s.put(&k, &v).await.expect("put binary");
    assert_eq!(s.get(&k).await.expect("get binary"), Some(v));
    s.put(&k, b"").await.expect("put empty");
    assert_eq!(s.get(&k).await.expect("get empty"), Some(Vec::new()));
    s.delete(&k).await.expect("delete");
}

async fn paged_list(s: &dyn Storage, ns: &str) {
    let p = format!("{ns}page/");
    let keys: Vec<String> = (0..25).map(|i| format!("k{i:03}")).collect();
    for k in &keys {
        s.put(&format!("{p}{k}"), k.as_bytes()).await.expect("put");
    }
    s.put(&format!("{p}sub/deep"), b"x")
        .await
        .expect("put nested");
    // A sibling whose name shares the prefix text must not leak into the listing.
    s.put(&format!("{ns}pagex"), b"x")
        .await
        .expect("put sibling");

    let first = s.list(&p, None, 10).await.expect("list page 1");
    assert_eq!(first, keys[..10]);
    let second = s.list(&p, Some(&first[9]), 10).await.expect("list page 2");
    assert_eq!(second, keys[10..20]);
    let rest = s.list(&p, Some(&second[9]), 100).await.expect("list rest");
    let mut expected: Vec<String> = keys[20..].to_vec();
    expected.push("sub/deep".into());
    assert_eq!(rest, expected);
    assert_eq!(list_all(s, &p).await.expect("list_all").len(), 26);
    assert!(s
        .list(&format!("{ns}nothing/"), None, 10)
        .await
        .expect("list empty")
        .is_empty());
}

async fn children(s: &dyn Storage, ns: &str) {
    let p = format!("{ns}tree/");
    for k in ["a", "b/1", "b/2", "b/c/3", "c", "d/e"] {
        s.put(&format!("{p}{k}"), b"x").await.expect("put");
    }
    let got = list_children(s, &p).await.expect("children");
    assert_eq!(got, ["a", "b/", "c", "d/"]);
    let got = list_children(s, &format!("{p}b/"))
        .await
        .expect("children of b");
    assert_eq!(got, ["1", "2", "c/"]);
}

async fn batches(s: &dyn Storage, ns: &str) {
    let a = format!("{ns}batch/a");
    let b = format!("{ns}batch/b");
    s.put(&b, b"old").await.expect("put");
    s.apply(vec![
        WriteOp::Put {
            key: a.clone(),
            value: b"1".to_vec(),
        },
        WriteOp::Delete { key: b.clone() },
    ])
    .await
    .expect("apply");
    assert_eq!(s.get(&a).await.expect("get").as_deref(), Some(&b"1"[..]));
    assert_eq!(s.get(&b).await.expect("get"), None);

    // A batch with one bad key must change nothing.
    let bad = s
        .apply(vec![
            WriteOp::Put {
                key: a.clone(),
                value: b"2".to_vec(),
            },
            WriteOp::Put {
                key: format!("{ns}batch/../escape"),
                value: b"x".to_vec(),
            },
        ])
        .await;
    assert!(bad.is_err(), "a batch with an invalid key must fail");
    assert_eq!(s.get(&a).await.expect("get").as_deref(), Some(&b"1"[..]));
    s.apply(Vec::new()).await.expect("empty batch");
}

async fn rejects_bad_keys(s: &dyn Storage) {
    for key in ["a/../b", "/abs", "nul\0byte", "./x"] {
        assert!(s.put(key, b"x").await.is_err(), "{key:?} must be rejected");
        assert!(s.get(key).await.is_err(), "{key:?} must be rejected");
    }
}
