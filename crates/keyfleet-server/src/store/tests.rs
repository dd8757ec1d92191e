//! The store suite: behaviours every backend must have. Each case takes a `&dyn Store`;
//! a backend joins by adding its constructor to `backends()`.

use std::sync::Arc;

use super::sqlite::SqliteStore;
use super::*;

async fn backends(dir: &tempfile::TempDir) -> Vec<Arc<dyn Store>> {
    vec![Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap())]
}

fn scope(region: &str) -> Scope {
    Scope { account: "111122223333".into(), region: region.into() }
}

fn row(id: &str, name: &str) -> KeyPairRow {
    KeyPairRow {
        id: id.into(),
        name: name.into(),
        key_type: "ed25519".into(),
        fingerprint: format!("fp-{name}"),
        public_key: "ssh-ed25519 AAAA".into(),
        created_ms: 1,
        tags: vec![Tag { key: "env".into(), value: "dev".into() }],
    }
}

macro_rules! for_each_backend {
    ($name:ident, $body:expr) => {
        #[tokio::test]
        async fn $name() {
            let dir = tempfile::tempdir().unwrap();
            for store in backends(&dir).await {
                $body(store).await;
            }
        }
    };
}

for_each_backend!(names_are_unique_per_scope_but_not_across_regions, |s: Arc<dyn Store>| async move {
    s.insert_key_pair(&scope("us-east-1"), &row("key-1", "a"), 10).await.unwrap();
    assert!(matches!(s.insert_key_pair(&scope("us-east-1"), &row("key-2", "a"), 10).await, Err(StoreError::Duplicate)));
    s.insert_key_pair(&scope("eu-west-1"), &row("key-3", "a"), 10).await.unwrap();
});

for_each_backend!(quota_counts_deletes_and_holds_under_concurrency, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let attempts = (0..20).map(|i| {
        let (s, sc) = (s.clone(), sc.clone());
        tokio::spawn(async move { s.insert_key_pair(&sc, &row(&format!("key-{i}"), &format!("n{i}")), 5).await })
    });
    let mut ok = 0;
    for a in attempts {
        match a.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::QuotaExceeded(5)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(s.key_pairs(&sc, &KeyPairQuery::default()).await.unwrap().len(), 5);
    let victim = s.key_pairs(&sc, &KeyPairQuery::default()).await.unwrap()[0].name.clone();
    assert!(s.delete_key_pair(&sc, KeyPairRef::Name(&victim)).await.unwrap().is_some());
    s.insert_key_pair(&sc, &row("key-new", "new"), 5).await.unwrap();
});

for_each_backend!(lookups_by_name_and_id_carry_tags, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    s.insert_key_pair(&sc, &row("key-1", "a"), 10).await.unwrap();
    s.insert_key_pair(&sc, &row("key-2", "b"), 10).await.unwrap();
    let q = KeyPairQuery { names: vec!["b".into(), "missing".into()], ids: vec!["key-1".into()] };
    let found = s.key_pairs(&sc, &q).await.unwrap();
    assert_eq!(found.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(found[0].tags, vec![Tag { key: "env".into(), value: "dev".into() }]);
    assert_eq!(s.key_pairs(&sc, &KeyPairQuery::default()).await.unwrap()[1].tags.len(), 1);
});

for_each_backend!(delete_removes_tags_and_missing_is_none, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    s.insert_key_pair(&sc, &row("key-1", "a"), 10).await.unwrap();
    assert_eq!(s.delete_key_pair(&sc, KeyPairRef::Id("key-1")).await.unwrap().as_deref(), Some("key-1"));
    assert_eq!(s.delete_key_pair(&sc, KeyPairRef::Name("a")).await.unwrap(), None);
    assert!(s.tags(&sc).await.unwrap().is_empty());
});

for_each_backend!(tags_overwrite_limit_and_conditional_delete, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    s.insert_key_pair(&sc, &row("key-1", "a"), 10).await.unwrap();
    let res = [("key-1".to_owned(), "key-pair".to_owned())];
    assert!(s.put_tags(&sc, &res, &[Tag { key: "env".into(), value: "prod".into() }], 50).await.unwrap());
    assert_eq!(s.tags(&sc).await.unwrap()[0].tag.value, "prod");
    let many: Vec<Tag> = (0..50).map(|i| Tag { key: format!("k{i}"), value: String::new() }).collect();
    assert!(!s.put_tags(&sc, &res, &many, 50).await.unwrap());
    assert_eq!(s.tags(&sc).await.unwrap().len(), 1, "a refused put writes nothing");
    let ids = ["key-1".to_owned()];
    s.delete_tags(&sc, &ids, &[TagRemoval { key: "env".into(), value: Some("dev".into()) }]).await.unwrap();
    assert_eq!(s.tags(&sc).await.unwrap().len(), 1, "value did not match");
    s.delete_tags(&sc, &ids, &[TagRemoval { key: "env".into(), value: None }]).await.unwrap();
    assert!(s.tags(&sc).await.unwrap().is_empty());
});

for_each_backend!(reset_empties_everything, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    s.insert_key_pair(&sc, &row("key-1", "a"), 1).await.unwrap();
    s.reset().await.unwrap();
    assert!(s.key_pairs(&sc, &KeyPairQuery::default()).await.unwrap().is_empty());
    s.insert_key_pair(&sc, &row("key-1", "a"), 1).await.unwrap();
});
