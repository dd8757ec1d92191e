//! The store suite: behaviours every backend must have. Each case takes a `&dyn Store`;
//! a backend joins by adding its constructor to `backends()`.

use std::sync::Arc;

use super::sql::{self, SqlStore};
use super::*;

/// SQLite in a temporary dir, and PostgreSQL in a fresh database when one is reachable
/// (`KEYFLEET_TEST_POSTGRES`, default the local server). Under `CI=true` PostgreSQL must be there.
async fn backends(dir: &tempfile::TempDir) -> Vec<Arc<dyn Store>> {
    let mut stores: Vec<Arc<dyn Store>> =
        vec![Arc::new(SqlStore::open_sqlite(&dir.path().join("t.db")).await.unwrap())];
    match postgres_test_database().await {
        Some(url) => stores.push(Arc::new(SqlStore::open_postgres(&url).await.unwrap())),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("PostgreSQL is required under CI=true"),
        None => eprintln!("skipping the PostgreSQL backend: no server at {}", postgres_server_url()),
    }
    stores
}

fn postgres_server_url() -> String {
    std::env::var("KEYFLEET_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates a database of its own for one test and returns its URL.
async fn postgres_test_database() -> Option<String> {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let server = postgres_server_url();
    let mut admin = sqlx::AnyConnection::connect(&server).await.ok()?;
    // Databases of earlier runs are dropped; one still in use refuses, and stays.
    let prefix = format!("keyfleet_test_{}_", std::process::id());
    let stale: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE 'keyfleet_test_%'")
            .fetch_all(&mut admin)
            .await
            .unwrap_or_default();
    for old in stale.iter().filter(|d| !d.starts_with(&prefix)) {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {old}"))).execute(&mut admin).await;
    }
    let name = format!("{prefix}{}", &crate::common::ids::new_id("d")[2..]);
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.ok()?;
    let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
    Some(format!("{base}/{name}"))
}

fn scope(region: &str) -> Scope {
    Scope { account: "111122223333".into(), region: region.into() }
}

fn row(id: &str, name: &str) -> KeyPairRow {
    KeyPairRow {
        id: id.into(),
        name: name.into(),
        key_type: KeyType::Ed25519,
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
    s.insert_key_pair(&UnitOfWork::alone(), &scope("us-east-1"), &row("key-1", "a"), 10).await.unwrap();
    assert!(matches!(
        s.insert_key_pair(&UnitOfWork::alone(), &scope("us-east-1"), &row("key-2", "a"), 10).await,
        Err(StoreError::Duplicate)
    ));
    s.insert_key_pair(&UnitOfWork::alone(), &scope("eu-west-1"), &row("key-3", "a"), 10).await.unwrap();
});

for_each_backend!(quota_counts_deletes_and_holds_under_concurrency, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let attempts = (0..20).map(|i| {
        let (s, sc) = (s.clone(), sc.clone());
        tokio::spawn(async move {
            s.insert_key_pair(&UnitOfWork::alone(), &sc, &row(&format!("key-{i}"), &format!("n{i}")), 5).await
        })
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
    assert!(s.delete_key_pair(&UnitOfWork::alone(), &sc, KeyPairRef::Name(&victim)).await.unwrap().is_some());
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-new", "new"), 5).await.unwrap();
});

for_each_backend!(lookups_by_name_and_id_carry_tags, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-1", "a"), 10).await.unwrap();
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-2", "b"), 10).await.unwrap();
    let q = KeyPairQuery { names: vec!["b".into(), "missing".into()], ids: vec!["key-1".into()] };
    let found = s.key_pairs(&sc, &q).await.unwrap();
    assert_eq!(found.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(found[0].tags, vec![Tag { key: "env".into(), value: "dev".into() }]);
    assert_eq!(s.key_pairs(&sc, &KeyPairQuery::default()).await.unwrap()[1].tags.len(), 1);
});

for_each_backend!(a_listing_returns_every_field_exactly_in_creation_order, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let mut odd = row("key-b", "quote\" back\\slash ünï 🔑 <&>");
    odd.created_ms = 1_764_000_000_123;
    odd.tags =
        vec![Tag { key: "z".into(), value: "".into() }, Tag { key: "a".into(), value: "line\nbreak\t\"x\"".into() }];
    let mut plain = row("key-a", "plain");
    plain.created_ms = odd.created_ms;
    plain.tags.clear();
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &odd, 10).await.unwrap();
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &plain, 10).await.unwrap();
    let listed = s.key_pairs(&sc, &KeyPairQuery::default()).await.unwrap();
    odd.tags.sort_by(|a, b| a.key.cmp(&b.key));
    // Same creation time: the id breaks the tie.
    assert_eq!(listed, [plain, odd]);
    assert!(s.key_pairs(&scope("eu-west-1"), &KeyPairQuery::default()).await.unwrap().is_empty());
});

for_each_backend!(delete_removes_tags_and_missing_is_none, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-1", "a"), 10).await.unwrap();
    assert_eq!(
        s.delete_key_pair(&UnitOfWork::alone(), &sc, KeyPairRef::Id("key-1")).await.unwrap().as_deref(),
        Some("key-1")
    );
    assert_eq!(s.delete_key_pair(&UnitOfWork::alone(), &sc, KeyPairRef::Name("a")).await.unwrap(), None);
    assert!(s.tags(&sc).await.unwrap().is_empty());
});

for_each_backend!(deletes_give_back_exactly_their_own_quota_slot_and_tags, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-1", "a"), 2).await.unwrap();
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-2", "b"), 2).await.unwrap();
    assert_eq!(
        s.delete_key_pair(&UnitOfWork::alone(), &sc, KeyPairRef::Name("a")).await.unwrap().as_deref(),
        Some("key-1")
    );
    let left: Vec<String> = s.tags(&sc).await.unwrap().into_iter().map(|t| t.resource_id).collect();
    assert_eq!(left, ["key-2"], "only the deleted key pair's tags go");
    // Deleting what is not there gives back no slot.
    assert_eq!(s.delete_key_pair(&UnitOfWork::alone(), &sc, KeyPairRef::Name("a")).await.unwrap(), None);
    assert_eq!(s.delete_key_pair(&UnitOfWork::alone(), &sc, KeyPairRef::Id("key-9")).await.unwrap(), None);
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-3", "c"), 2).await.unwrap();
    assert!(matches!(
        s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-4", "d"), 2).await,
        Err(StoreError::QuotaExceeded(2))
    ));
    assert_eq!(
        s.delete_key_pair(&UnitOfWork::alone(), &sc, KeyPairRef::Id("key-2")).await.unwrap().as_deref(),
        Some("key-2")
    );
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-4", "d"), 2).await.unwrap();
    // A duplicate name takes no slot either.
    assert!(matches!(
        s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-5", "d"), 3).await,
        Err(StoreError::Duplicate)
    ));
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-5", "e"), 3).await.unwrap();
});

for_each_backend!(tags_overwrite_limit_and_conditional_delete, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-1", "a"), 10).await.unwrap();
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
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-1", "a"), 1).await.unwrap();
    s.reset().await.unwrap();
    assert!(s.key_pairs(&sc, &KeyPairQuery::default()).await.unwrap().is_empty());
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-1", "a"), 1).await.unwrap();
});

fn user(name: &str) -> UserRow {
    UserRow { name: name.into(), user_id: crate::common::ids::iam_unique_id("AIDA"), created_ms: 1 }
}

fn access_key(id: &str, user: &str) -> AccessKeyRow {
    AccessKeyRow {
        id: id.into(),
        account: "111122223333".into(),
        user_name: user.into(),
        sealed_secret: "sealed".into(),
        status: AccessKeyStatus::Active,
        created_ms: 1,
    }
}

for_each_backend!(users_keys_and_policies_follow_iams_rules, |s: Arc<dyn Store>| async move {
    let account = "111122223333";
    s.insert_user(account, &user("alice")).await.unwrap();
    assert!(matches!(s.insert_user(account, &user("ALICE")).await, Err(StoreError::Duplicate)), "names ignore case");
    s.insert_user("444455556666", &user("alice")).await.unwrap();
    assert!(!s.insert_access_key(&access_key("AKIA0", "nobody"), 2).await.unwrap(), "no such user");
    let keys = ["AKIA1", "AKIA2", "AKIA3"].map(|id| {
        let s = s.clone();
        tokio::spawn(async move { s.insert_access_key(&access_key(id, "alice"), 2).await })
    });
    let mut stored = 0;
    for k in keys {
        match k.await.unwrap() {
            Ok(true) => stored += 1,
            Err(StoreError::QuotaExceeded(2)) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(stored, 2, "two keys per user, also when asked for at once");
    assert!(s.put_user_policy(account, "alice", "p", "{}").await.unwrap());
    assert!(s.put_user_policy(account, "alice", "p", "{\"v\":2}").await.unwrap(), "put replaces");
    assert!(!s.put_user_policy(account, "bob", "p", "{}").await.unwrap());
    assert_eq!(s.user_policies(account, "alice").await.unwrap(), vec![("p".to_owned(), "{\"v\":2}".to_owned())]);
    assert_eq!(s.delete_user(account, "alice").await.unwrap(), DeleteUserOutcome::HasAccessKeys);
    for key in s.access_keys(account, "alice").await.unwrap() {
        assert_eq!(s.access_key(&key.id).await.unwrap().unwrap().user_name, "alice");
        assert!(s.delete_access_key(account, "alice", &key.id).await.unwrap());
    }
    assert_eq!(s.delete_user(account, "alice").await.unwrap(), DeleteUserOutcome::HasPolicies);
    assert!(s.delete_user_policy(account, "alice", "p").await.unwrap());
    assert_eq!(s.delete_user(account, "alice").await.unwrap(), DeleteUserOutcome::Deleted);
    assert_eq!(s.delete_user(account, "alice").await.unwrap(), DeleteUserOutcome::NotFound);
    assert_eq!(s.users("444455556666").await.unwrap().len(), 1, "accounts are separate");
});

fn audit_row(event_id: &str, name: &str, time_ms: i64, resources: &[&str]) -> AuditRow {
    AuditRow {
        seq: 0,
        event_id: event_id.into(),
        account: "111122223333".into(),
        region: "us-east-1".into(),
        time_ms,
        event_name: name.into(),
        event_source: "ec2.amazonaws.com".into(),
        username: "alice".into(),
        access_key: "AKIA1".into(),
        read_only: name.starts_with("Describe"),
        resources: resources.iter().map(|r| ("AWS::EC2::KeyPair".to_owned(), (*r).to_owned())).collect(),
        record: "{}".into(),
    }
}

for_each_backend!(audit_records_are_found_newest_first_by_attribute_and_time, |s: Arc<dyn Store>| async move {
    let rows = [
        audit_row("e1", "CreateKeyPair", 1_000, &["dev-a"]),
        audit_row("e2", "DescribeKeyPairs", 2_000, &[]),
        audit_row("e3", "DeleteKeyPair", 3_000, &["dev-a"]),
    ];
    s.append_audit(&rows[..2]).await.unwrap();
    s.append_audit(&rows[2..]).await.unwrap();
    let query = |attribute: Option<(AuditAttribute, &str)>, start_ms, before_seq, limit| AuditQuery {
        attribute: attribute.map(|(a, v)| (a, v.to_owned())),
        start_ms,
        end_ms: i64::MAX,
        before_seq,
        limit,
    };
    let ids = |found: Vec<AuditRow>| found.into_iter().map(|r| r.event_id).collect::<Vec<_>>();
    let sc = scope("us-east-1");
    assert_eq!(ids(s.audit_events(&sc, &query(None, 0, None, 50)).await.unwrap()), ["e3", "e2", "e1"]);
    let by_name =
        s.audit_events(&sc, &query(Some((AuditAttribute::ResourceName, "dev-a")), 0, None, 50)).await.unwrap();
    assert_eq!(by_name[1].resources, vec![("AWS::EC2::KeyPair".to_owned(), "dev-a".to_owned())]);
    assert_eq!(ids(by_name), ["e3", "e1"]);
    assert_eq!(
        ids(s.audit_events(&sc, &query(Some((AuditAttribute::ReadOnly, "true")), 0, None, 50)).await.unwrap()),
        ["e2"]
    );
    assert_eq!(ids(s.audit_events(&sc, &query(None, 1_500, None, 50)).await.unwrap()), ["e3", "e2"]);
    let first = s.audit_events(&sc, &query(None, 0, None, 1)).await.unwrap();
    assert_eq!(ids(s.audit_events(&sc, &query(None, 0, Some(first[0].seq), 50)).await.unwrap()), ["e2", "e1"]);
    assert!(s.audit_events(&scope("eu-west-1"), &query(None, 0, None, 50)).await.unwrap().is_empty());
});

for_each_backend!(concurrent_overwrites_get_distinct_versions, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let put = |i: i64| {
        let (s, sc) = (s.clone(), sc.clone());
        let row = ParameterRow {
            name: "/app/db".into(),
            version: 0,
            kind: ParameterType::String,
            value: format!("v{i}"),
            key_id: None,
            description: None,
            data_type: "text".into(),
            modified_ms: i,
            modified_by: "test".into(),
            ..parameter("/app/db", "")
        };
        tokio::spawn(async move { s.put_parameter(&sc, &row, true, 100).await })
    };
    let writers: Vec<_> = (0..10).map(put).collect();
    let mut versions = Vec::new();
    for w in writers {
        match w.await.unwrap().unwrap() {
            PutOutcome::Stored(v) => versions.push(v),
            other => panic!("{other:?}"),
        }
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=10).collect::<Vec<_>>());
});

// On SQLite, concurrent writes share transactions (group commit): a write that fails in a
// batch must neither fail nor leak into the writes beside it.
for_each_backend!(failed_writes_beside_others_leave_no_trace, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let attempts: Vec<_> = (0..40)
        .map(|i| {
            let (s, sc) = (s.clone(), sc.clone());
            tokio::spawn(async move {
                s.insert_key_pair(&UnitOfWork::alone(), &sc, &row(&format!("key-{i}"), &format!("n{}", i % 20)), 25)
                    .await
            })
        })
        .collect();
    let (mut ok, mut duplicate) = (0, 0);
    for a in attempts {
        match a.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Duplicate) => duplicate += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((ok, duplicate), (20, 20));
    assert_eq!(s.key_pairs(&sc, &KeyPairQuery::default()).await.unwrap().len(), 20);
    // The quota counter holds 20, not 40: five more fit under 25, the sixth does not.
    for i in 0..5 {
        s.insert_key_pair(&UnitOfWork::alone(), &sc, &row(&format!("more-{i}"), &format!("more{i}")), 25)
            .await
            .unwrap();
    }
    assert!(matches!(
        s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("last", "last"), 25).await,
        Err(StoreError::QuotaExceeded(25))
    ));
});

for_each_backend!(a_large_audit_batch_keeps_order_and_resources, |s: Arc<dyn Store>| async move {
    let names: Vec<String> = (0..150).map(|i| format!("k{i}")).collect();
    let rows: Vec<AuditRow> = (0..150)
        .map(|i| audit_row(&format!("e{i}"), "CreateKeyPair", 1_000 + i, &[names[i as usize].as_str(), "shared"]))
        .collect();
    s.append_audit(&rows).await.unwrap();
    let query = AuditQuery { attribute: None, start_ms: 0, end_ms: i64::MAX, before_seq: None, limit: 200 };
    let found = s.audit_events(&scope("us-east-1"), &query).await.unwrap();
    let expected: Vec<String> = (0..150).rev().map(|i| format!("e{i}")).collect();
    assert_eq!(found.iter().map(|r| r.event_id.clone()).collect::<Vec<_>>(), expected);
    for row in &found {
        let i = &row.event_id[1..];
        let kinds = row.resources.iter().map(|(_, name)| name.as_str()).collect::<Vec<_>>();
        assert_eq!(kinds, [format!("k{i}").as_str(), "shared"]);
    }
});

fn instance(id: &str, state: InstanceState) -> InstanceRow {
    InstanceRow {
        id: id.into(),
        reservation_id: "r-1".into(),
        image_id: "ami-1".into(),
        instance_type: "t3.micro".into(),
        key_name: None,
        state,
        address: format!("127.77.0.{}", id.bytes().map(u32::from).sum::<u32>() % 250 + 2),
        volume_id: format!("vol-{id}"),
        volume_gib: 8,
        client_token: None,
        launch_index: 0,
        launch_ms: 1,
        user_data: None,
        launch_key: None,
        http_tokens: "optional".into(),
        security_groups: vec!["sg-0123456789abcdef0".into()],
        disable_api_termination: false,
        shutdown_behavior: ShutdownBehavior::Stop,
        user_transition_ms: None,
        volume_life: VolumeLife::DeleteOnTermination,
        tags: Vec::new(),
        owner: "replica-a".into(),
        lease_ms: 0,
        reboots: 0,
    }
}

for_each_backend!(instance_states_round_trip_and_transitions_check_the_state, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let sized =
        InstanceRow { volume_gib: 20, client_token: Some("token-1".into()), ..instance("i-1", InstanceState::Running) };
    s.insert_instances(&sc, &[sized], limits(10)).await.unwrap();
    let read = &s.instances(&sc, &[]).await.unwrap()[0];
    assert_eq!((read.volume_gib, read.client_token.as_deref()), (20, Some("token-1")));
    let moved = s.transition_instance(&sc, "i-1", &[InstanceState::Stopped], InstanceState::Pending).await.unwrap();
    assert_eq!(moved, None, "a running instance is not stopped");
    let from = [InstanceState::Pending, InstanceState::Running];
    let moved = s.transition_instance(&sc, "i-1", &from, InstanceState::Stopping).await.unwrap();
    assert_eq!(moved, Some(InstanceState::Running));
    assert_eq!(s.instances(&sc, &[]).await.unwrap()[0].state, InstanceState::Stopping);
    let live = s.instances_in_states(&InstanceState::LIVE).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(s.transition_instance(&sc, "i-9", &from, InstanceState::Stopping).await.unwrap(), None);
});

// DeleteOnTermination=false: the volume outlives its instance, still counts against the
// volume capacity, and moves keep → deleting → deleted only after the instance is terminated.
for_each_backend!(kept_volumes_outlive_their_instance_until_deleted, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let kept = InstanceRow { volume_life: VolumeLife::Keep, ..instance("i-1", InstanceState::Running) };
    s.insert_instances(&sc, &[kept], limits(10)).await.unwrap();
    let moved = s.move_volume_life(&sc, "vol-i-1", VolumeLife::Keep, VolumeLife::Deleting).await.unwrap();
    assert!(!moved, "an attached volume stays");
    s.transition_instance(&sc, "i-1", &[InstanceState::Running], InstanceState::Terminated).await.unwrap();
    let held = s.volumes_after_termination(VolumeLife::Keep).await.unwrap();
    assert_eq!(held.iter().map(|(_, r)| r.volume_id.as_str()).collect::<Vec<_>>(), ["vol-i-1"]);
    assert!(s.instances(&sc, &[]).await.unwrap()[0].has_volume());
    let full = LaunchLimits { instances: 10, volume_gib: 8 };
    let next = s.insert_instances(&sc, &[instance("i-2", InstanceState::Pending)], full).await;
    assert!(matches!(next, Err(StoreError::VolumeCapacityExceeded(8))), "the kept volume holds its 8 GiB: {next:?}");
    assert!(s.move_volume_life(&sc, "vol-i-1", VolumeLife::Keep, VolumeLife::Deleting).await.unwrap());
    assert!(!s.move_volume_life(&sc, "vol-i-1", VolumeLife::Keep, VolumeLife::Deleting).await.unwrap());
    assert_eq!(s.volumes_after_termination(VolumeLife::Deleting).await.unwrap().len(), 1);
    assert!(s.move_volume_life(&sc, "vol-i-1", VolumeLife::Deleting, VolumeLife::Deleted).await.unwrap());
    assert!(!s.instances(&sc, &[]).await.unwrap()[0].has_volume());
    assert!(s.volumes_after_termination(VolumeLife::Deleting).await.unwrap().is_empty());
    s.insert_instances(&sc, &[instance("i-2", InstanceState::Pending)], full).await.unwrap();
});

// ModifyInstanceAttribute: the type and user data only while stopped (in the update itself),
// the rest at any time; a user's stop is stamped and a start clears the stamp.
for_each_backend!(instance_attributes_change_as_ec2_allows, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let protected = InstanceRow {
        disable_api_termination: true,
        shutdown_behavior: ShutdownBehavior::Terminate,
        ..instance("i-1", InstanceState::Running)
    };
    s.insert_instances(&sc, &[protected], limits(10)).await.unwrap();
    let read = s.instances(&sc, &[]).await.unwrap().remove(0);
    assert_eq!((read.disable_api_termination, read.shutdown_behavior), (true, ShutdownBehavior::Terminate));
    let bigger = InstanceAttribute::InstanceType("t3.large".into());
    assert!(!s.modify_instance(&sc, "i-1", &bigger).await.unwrap(), "running: the type stays");
    assert!(s.modify_instance(&sc, "i-1", &InstanceAttribute::DisableApiTermination(false)).await.unwrap());
    let groups = InstanceAttribute::SecurityGroups(vec!["sg-1".into(), "sg-2".into()]);
    assert!(s.modify_instance(&sc, "i-1", &groups).await.unwrap());
    assert!(!s.modify_instance(&sc, "i-9", &groups).await.unwrap(), "no such instance");
    s.transition_instance(&sc, "i-1", &[InstanceState::Running], InstanceState::Stopping).await.unwrap();
    s.transition_instance(&sc, "i-1", &[InstanceState::Stopping], InstanceState::Stopped).await.unwrap();
    assert!(s.modify_instance(&sc, "i-1", &bigger).await.unwrap());
    assert!(s.modify_instance(&sc, "i-1", &InstanceAttribute::UserData(Some("aGk=".into()))).await.unwrap());
    let read = s.instances(&sc, &[]).await.unwrap().remove(0);
    assert_eq!(read.instance_type, "t3.large");
    assert_eq!(read.user_data.as_deref(), Some("aGk="));
    assert_eq!(read.security_groups, ["sg-1", "sg-2"]);
    assert!(!read.disable_api_termination);
    assert!(read.user_transition_ms.is_some(), "the stop is the user's, and kept through stopped");
    s.transition_instance(&sc, "i-1", &[InstanceState::Stopped], InstanceState::Pending).await.unwrap();
    assert_eq!(s.instances(&sc, &[]).await.unwrap()[0].user_transition_ms, None, "a start clears it");
});

// Replicas race on one instance: a stop and a terminate at once. Exactly one may move it,
// or a stop could overwrite `shutting-down` and leave a stopped instance without a volume.
for_each_backend!(concurrent_transitions_of_one_instance_have_one_winner, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let ids: Vec<String> = (0..10).map(|i| format!("i-{i}")).collect();
    let rows: Vec<InstanceRow> = ids.iter().map(|id| instance(id, InstanceState::Running)).collect();
    s.insert_instances(&sc, &rows, limits(10)).await.unwrap();
    for id in &ids {
        let racers: Vec<_> = (0..16)
            .map(|n| {
                let (s, sc, id) = (s.clone(), sc.clone(), id.clone());
                let to = if n % 2 == 0 { InstanceState::Stopping } else { InstanceState::ShuttingDown };
                tokio::spawn(async move { s.transition_instance(&sc, &id, &[InstanceState::Running], to).await })
            })
            .collect();
        let mut winners = 0;
        for racer in racers {
            if racer.await.unwrap().unwrap().is_some() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "{id} moved {winners} times from running");
    }
});

// Concurrent CreateTags on one resource, each within the limit alone: together they must
// not pass it (PostgreSQL counted each transaction's own rows only before the lock).
for_each_backend!(concurrent_tag_puts_hold_the_limit, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    s.insert_key_pair(&UnitOfWork::alone(), &sc, &row("key-1", "a"), 10).await.unwrap();
    let puts: Vec<_> = (0..16)
        .map(|n| {
            let (s, sc) = (s.clone(), sc.clone());
            tokio::spawn(async move {
                let tags: Vec<Tag> = (0..10).map(|i| Tag { key: format!("p{n}-{i}"), value: String::new() }).collect();
                s.put_tags(&sc, &[("key-1".to_owned(), "key-pair".to_owned())], &tags, 50).await.unwrap()
            })
        })
        .collect();
    for put in puts {
        put.await.unwrap();
    }
    let held = s.tags(&sc).await.unwrap().len();
    assert!(held <= 50, "{held} tags on one resource");
});

/// Both dialects' migrations make the same tables with the same columns, and the dev reset
/// empties every table but those it keeps on purpose.
#[tokio::test]
async fn both_dialects_have_one_schema_and_reset_knows_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqlStore::open_sqlite(&dir.path().join("t.db")).await.unwrap().schema().await.unwrap();
    let mut expected: Vec<&str> =
        sqlite.keys().map(String::as_str).filter(|t| !sql::maintenance::KEPT_ON_RESET.contains(t)).collect();
    let mut emptied = sql::maintenance::reset_tables();
    expected.sort_unstable();
    emptied.sort();
    assert_eq!(emptied, expected);
    match postgres_test_database().await {
        Some(url) => assert_eq!(SqlStore::open_postgres(&url).await.unwrap().schema().await.unwrap(), sqlite),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("PostgreSQL is required under CI=true"),
        None => eprintln!("skipping the PostgreSQL schema: no server at {}", postgres_server_url()),
    }
}

#[test]
fn wire_names_round_trip() {
    fn round_trips<T: WireName + std::fmt::Debug>() {
        for value in T::ALL {
            assert_eq!(T::parse(value.as_str()), Some(*value));
        }
        assert_eq!(T::parse(""), None);
    }
    round_trips::<InstanceState>();
    round_trips::<AutomationStatus>();
    round_trips::<AccessKeyStatus>();
    round_trips::<ParameterType>();
    round_trips::<StackStatus>();
    round_trips::<ResourceStatus>();
    round_trips::<HttpTokens>();
    round_trips::<Lifecycle>();
    round_trips::<Health>();
    round_trips::<RefreshStatus>();
    round_trips::<ActivityStatus>();
    for key_type in [KeyType::Rsa, KeyType::Ed25519] {
        assert_eq!(KeyType::parse(key_type.as_str()), Some(key_type));
    }
    assert_eq!(InstanceState::ALL.iter().map(|s| s.code()).collect::<Vec<_>>(), [0, 16, 32, 48, 64, 80]);
}

for_each_backend!(pushed_keys_hold_until_they_expire, |s: Arc<dyn Store>| async move {
    let now = crate::common::time::now_ms();
    s.push_key("i-1", "ec2-user", "ssh-ed25519 AAAA1", now + 60_000).await.unwrap();
    s.push_key("i-1", "ec2-user", "ssh-ed25519 AAAA2", now + 120_000).await.unwrap();
    s.push_key("i-1", "root", "ssh-ed25519 AAAA3", now + 120_000).await.unwrap();
    assert_eq!(s.pushed_keys("i-1", "ec2-user", now).await.unwrap().len(), 2);
    assert_eq!(s.pushed_keys("i-1", "ec2-user", now + 90_000).await.unwrap(), ["ssh-ed25519 AAAA2"]);
    assert!(s.pushed_keys("i-1", "ec2-user", now + 120_000).await.unwrap().is_empty(), "expired at its time");
    assert!(s.pushed_keys("i-2", "ec2-user", now).await.unwrap().is_empty());
    // An expired key is dropped when the next one is pushed.
    s.push_key("i-9", "ec2-user", "ssh-ed25519 AAAA4", now - 1).await.unwrap();
    s.push_key("i-9", "ec2-user", "ssh-ed25519 AAAA5", now + 60_000).await.unwrap();
    assert_eq!(s.pushed_keys("i-9", "ec2-user", now - 10).await.unwrap(), ["ssh-ed25519 AAAA5"]);
});

/// An instance quota, and room for any volume.
fn limits(instances: u32) -> LaunchLimits {
    LaunchLimits { instances, volume_gib: u64::MAX }
}

/// Twelve one-instance launches at once, launch `n` into `scope_of(n)` (an 8 GiB volume each);
/// how many got in, every refusal being `refused`.
async fn concurrent_launches(
    s: &Arc<dyn Store>,
    scope_of: fn(u32) -> Scope,
    limits: LaunchLimits,
    refused: StoreError,
) -> usize {
    let launches: Vec<_> = (0..12u32)
        .map(|n| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut row = instance(&format!("i-{n:02}"), InstanceState::Pending);
                row.address = format!("127.77.1.{}", n + 2);
                s.insert_instances(&scope_of(n), &[row], limits).await
            })
        })
        .collect();
    let mut launched = 0;
    for launch in launches {
        match launch.await.unwrap() {
            Ok(()) => launched += 1,
            Err(e) if e.to_string() == refused.to_string() => {}
            Err(other) => panic!("{other}"),
        }
    }
    launched
}

// Launches racing into different scopes through several replicas hold the host's volume
// capacity together: five 8 GiB volumes fit in 40 GiB, the sixth and later do not.
for_each_backend!(concurrent_launches_hold_the_volume_capacity, |s: Arc<dyn Store>| async move {
    let each_its_own = |n: u32| scope(&format!("region-{n}"));
    let capacity = LaunchLimits { instances: 10, volume_gib: 40 };
    let launched = concurrent_launches(&s, each_its_own, capacity, StoreError::VolumeCapacityExceeded(40)).await;
    assert_eq!(launched, 5, "40 GiB took {launched} volumes of 8 GiB");
});

// Launches racing into one scope (RunInstances through several replicas) hold the quota
// together: the count and the insert are one transaction under a lock.
for_each_backend!(concurrent_launches_hold_the_instance_quota, |s: Arc<dyn Store>| async move {
    let launched = concurrent_launches(&s, |_| scope("us-east-1"), limits(5), StoreError::QuotaExceeded(5)).await;
    assert_eq!(launched, 5, "the quota of 5 let {launched} in");
    assert_eq!(s.instances(&scope("us-east-1"), &[]).await.unwrap().len(), 5);
});

for_each_backend!(leases_claims_reboots_and_live_addresses, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let mut a = instance("i-a", InstanceState::Running);
    a.owner = "replica-a".into();
    a.lease_ms = 1_000;
    let mut gone = instance("i-gone", InstanceState::Terminated);
    gone.address = "127.77.9.9".into();
    s.insert_instances(&sc, &[a.clone(), gone], limits(10)).await.unwrap();
    assert_eq!(s.live_addresses().await.unwrap(), [a.address.clone()], "a terminated instance frees its address");
    // The owner keeps it while its lease holds; a renewal moves the lease.
    assert!(!s.claim_instance(&sc, "i-a", 500, "replica-b", 9_000).await.unwrap(), "lease still held");
    s.renew_instance_leases("replica-a", 5_000).await.unwrap();
    assert_eq!(s.instances(&sc, &[]).await.unwrap()[0].lease_ms, 5_000);
    assert!(s.claim_instance(&sc, "i-a", 5_000, "replica-a", 6_000).await.unwrap(), "its owner renews it");
    // Once the lease ran out, one of two claimants wins.
    let claims = tokio::join!(
        s.claim_instance(&sc, "i-a", 7_000, "replica-b", 20_000),
        s.claim_instance(&sc, "i-a", 7_000, "replica-c", 20_000)
    );
    assert_eq!([claims.0.unwrap(), claims.1.unwrap()].iter().filter(|won| **won).count(), 1);
    assert!(!s.claim_instance(&sc, "i-gone", i64::MAX, "replica-b", 1).await.unwrap(), "terminated: no owner");
    s.request_reboot(&sc, "i-a").await.unwrap();
    s.request_reboot(&sc, "i-a").await.unwrap();
    assert_eq!(s.instances(&sc, &["i-a".into()]).await.unwrap()[0].reboots, 2);
});

fn parameter(name: &str, value: &str) -> ParameterRow {
    ParameterRow {
        name: name.into(),
        version: 0,
        kind: ParameterType::String,
        value: value.into(),
        key_id: None,
        description: None,
        data_type: "text".into(),
        modified_ms: 1,
        modified_by: "arn:aws:iam::111122223333:root".into(),
        tier: ParameterTier::Standard,
        allowed_pattern: None,
        policies: None,
        expires_ms: None,
        labels: Vec::new(),
    }
}

// Expiration: only a parameter whose latest version has passed its time, in any scope.
for_each_backend!(expired_parameters_are_found_by_their_latest_version, |s: Arc<dyn Store>| async move {
    let (east, west) = (scope("us-east-1"), scope("us-west-2"));
    let expiring = |name: &str, at: Option<i64>| ParameterRow { expires_ms: at, ..parameter(name, "v") };
    s.put_parameter(&east, &expiring("/gone", Some(100)), false, 100).await.unwrap();
    s.put_parameter(&west, &expiring("/later", Some(10_000)), false, 100).await.unwrap();
    s.put_parameter(&east, &expiring("/renewed", Some(100)), false, 100).await.unwrap();
    s.put_parameter(&east, &expiring("/renewed", None), true, 100).await.unwrap();
    let expired = s.expired_parameters(1_000).await.unwrap();
    assert_eq!(expired, [(east.clone(), "/gone".to_owned())]);
    assert_eq!(s.expired_parameters(20_000).await.unwrap().len(), 2);
    // The sweep deletes only what is still expired when it gets there.
    s.put_parameter(&east, &expiring("/gone", None), true, 100).await.unwrap();
    assert!(!s.delete_if_expired(&east, "/gone", 1_000).await.unwrap(), "renewed after it was listed");
    assert!(s.delete_if_expired(&west, "/later", 20_000).await.unwrap());
    assert!(s.parameter(&west, "/later", None).await.unwrap().is_none());
});

// Labels: one version each, moved when put elsewhere, at most so many per version, and a
// labelled oldest version stops the put that would drop it.
for_each_backend!(labels_name_one_version_and_hold_the_oldest, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    for value in ["v1", "v2", "v3"] {
        s.put_parameter(&sc, &parameter("/p", value), true, 3).await.unwrap();
    }
    let prod = ["prod".to_owned()];
    assert_eq!(s.label_parameter(&sc, "/p", 1, &prod, 10).await.unwrap(), LabelOutcome::Labelled);
    assert_eq!(s.label_parameter(&sc, "/p", 9, &prod, 10).await.unwrap(), LabelOutcome::NoVersion);
    let two = ["a".to_owned(), "b".to_owned()];
    assert_eq!(s.label_parameter(&sc, "/p", 2, &two, 1).await.unwrap(), LabelOutcome::TooMany);
    assert_eq!(s.labelled_version(&sc, "/p", "a").await.unwrap(), None, "a refused labelling changes nothing");
    assert_eq!(s.put_parameter(&sc, &parameter("/p", "v4"), true, 3).await.unwrap(), PutOutcome::OldestLabelled(1));
    assert_eq!(s.label_parameter(&sc, "/p", 3, &prod, 10).await.unwrap(), LabelOutcome::Labelled);
    assert_eq!(s.labelled_version(&sc, "/p", "prod").await.unwrap(), Some(3), "the label moved");
    assert_eq!(s.put_parameter(&sc, &parameter("/p", "v4"), true, 3).await.unwrap(), PutOutcome::Stored(4));
    let history = s.parameter_history(&sc, "/p").await.unwrap();
    assert_eq!(
        history.iter().map(|r| (r.version, r.labels.clone())).collect::<Vec<_>>(),
        [(2, vec![]), (3, vec!["prod".to_owned()]), (4, vec![])]
    );
    assert_eq!(s.unlabel_parameter(&sc, "/p", 3, &["prod".into(), "x".into()]).await.unwrap(), ["prod"]);
    s.label_parameter(&sc, "/p", 4, &prod, 10).await.unwrap();
    assert!(s.delete_parameter(&sc, "/p").await.unwrap());
    assert_eq!(s.labelled_version(&sc, "/p", "prod").await.unwrap(), None, "labels go with the parameter");
});

for_each_backend!(parameters_keep_versions_list_by_prefix_and_delete, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    for value in ["v1", "v2", "v3"] {
        assert!(matches!(
            s.put_parameter(&sc, &parameter("/app/db", value), true, 2).await.unwrap(),
            PutOutcome::Stored(_)
        ));
    }
    s.put_parameter(&sc, &parameter("/app/cache", "c1"), false, 2).await.unwrap();
    s.put_parameter(&sc, &parameter("/other", "o1"), false, 2).await.unwrap();
    assert_eq!(s.put_parameter(&sc, &parameter("/other", "o2"), false, 2).await.unwrap(), PutOutcome::Exists);
    let mut list = parameter("/other", "o2");
    list.kind = ParameterType::StringList;
    assert_eq!(s.put_parameter(&sc, &list, true, 2).await.unwrap(), PutOutcome::TypeMismatch(ParameterType::String));
    let latest = s.parameter(&sc, "/app/db", None).await.unwrap().unwrap();
    assert_eq!((latest.version, latest.value.as_str()), (3, "v3"));
    assert_eq!(s.parameter(&sc, "/app/db", Some(2)).await.unwrap().unwrap().value, "v2");
    assert!(s.parameter(&sc, "/app/db", Some(1)).await.unwrap().is_none(), "only the newest 2 are kept");
    let history: Vec<i64> = s.parameter_history(&sc, "/app/db").await.unwrap().iter().map(|p| p.version).collect();
    assert_eq!(history, [2, 3]);
    let names: Vec<String> =
        s.parameters_with_prefix(&sc, "/app/").await.unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["/app/cache", "/app/db"]);
    assert!(s.delete_parameter(&sc, "/app/db").await.unwrap());
    assert!(!s.delete_parameter(&sc, "/app/db").await.unwrap());
    assert!(s.parameter_history(&sc, "/app/db").await.unwrap().is_empty(), "the history goes too");
    assert!(s.parameter(&scope("eu-west-1"), "/other", None).await.unwrap().is_none(), "scoped by region");
});

fn execution(id: &str, target: &str, status: AutomationStatus) -> AutomationRow {
    AutomationRow {
        id: id.into(),
        document: "AWSSupport-ResetAccess".into(),
        status,
        parameters: "{}".into(),
        steps: RunbookStep::ALL.iter().copied().map(StepExecution::pending).collect(),
        outputs: "{}".into(),
        failure: None,
        start_ms: id.len() as i64,
        end_ms: None,
        executed_by: "arn:aws:iam::111122223333:root".into(),
        owner: "replica-a".into(),
        target: Some(target.into()),
        assume_role: Some(PinnedRole { arn: "arn:aws:iam::111122223333:role/rescue".into(), role_id: "AROAX".into() }),
    }
}

for_each_backend!(executions_are_saved_found_and_one_runs_per_instance, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let mut first = execution("e-1", "i-1", AutomationStatus::InProgress);
    s.save_execution(&sc, &first).await.unwrap();
    let second = execution("e-22", "i-1", AutomationStatus::Pending);
    assert!(matches!(s.save_execution(&sc, &second).await, Err(StoreError::Duplicate)), "one unfinished per instance");
    first.status = AutomationStatus::Success;
    first.end_ms = Some(10);
    if let Some(step) = first.steps.get_mut(1) {
        *step = StepExecution {
            status: StepStatus::Success,
            start_ms: Some(3),
            end_ms: Some(4),
            outputs: Some([("CurrentState".to_owned(), vec!["stopped".to_owned()])].into()),
            ..StepExecution::pending(RunbookStep::StopInstance)
        };
    }
    if let Some(step) = first.steps.get_mut(2) {
        step.status = StepStatus::Failed;
        step.failure = Some("Step detachRootVolume failed".into());
    }
    s.save_execution(&sc, &first).await.unwrap();
    assert_eq!(s.execution(&sc, "e-1").await.unwrap().unwrap().steps, first.steps, "steps round-trip");
    s.save_execution(&sc, &second).await.unwrap();
    assert_eq!(s.execution(&sc, "e-1").await.unwrap().unwrap().status, AutomationStatus::Success);
    assert!(s.execution(&scope("eu-west-1"), "e-1").await.unwrap().is_none());
    let ids: Vec<String> = s.executions(&sc).await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(ids, ["e-1", "e-22"]);
    let running = s.executions_in_status(&[AutomationStatus::Pending, AutomationStatus::InProgress]).await.unwrap();
    assert_eq!(running.iter().map(|(_, e)| e.id.as_str()).collect::<Vec<_>>(), ["e-22"]);
});

for_each_backend!(root_keys_users_and_the_ping, |s: Arc<dyn Store>| async move {
    assert!(!s.ping().await.unwrap().is_empty());
    let mut root = access_key("AKIAROOT0000000000001", "");
    root.account = "222233334444".into();
    s.insert_root_access_key(&root).await.unwrap();
    let found = s.access_key("AKIAROOT0000000000001").await.unwrap().unwrap();
    assert_eq!((found.account.as_str(), found.user_name.as_str()), ("222233334444", ""));
    s.insert_user("222233334444", &user("Carol")).await.unwrap();
    assert_eq!(s.user("222233334444", "carol").await.unwrap().unwrap().name, "Carol", "names match ignoring case");
    assert!(s.user("111122223333", "carol").await.unwrap().is_none(), "users are per account");
});

for_each_backend!(login_profiles_follow_their_user_and_block_its_deletion, |s: Arc<dyn Store>| async move {
    let account = "111122223333";
    let profile = |user: &str| LoginProfileRow {
        user_name: user.into(),
        password_hash: "$argon2id$stand-in".into(),
        reset_required: true,
        created_ms: 5,
    };
    assert!(!s.insert_login_profile(account, &profile("nobody")).await.unwrap(), "no such user");
    s.insert_user(account, &UserRow { name: "Alice".into(), user_id: "AIDA1".into(), created_ms: 1 }).await.unwrap();
    assert!(s.insert_login_profile(account, &profile("Alice")).await.unwrap());
    assert!(matches!(s.insert_login_profile(account, &profile("alice")).await, Err(StoreError::Duplicate)));
    assert_eq!(s.login_profile(account, "ALICE").await.unwrap(), Some(profile("Alice")), "names ignore case");
    assert_eq!(s.delete_user(account, "alice").await.unwrap(), DeleteUserOutcome::HasLoginProfile);

    let change = LoginProfileChange { password_hash: None, reset_required: Some(false) };
    assert!(s.update_login_profile(account, "alice", &change).await.unwrap());
    let stored = s.login_profile(account, "alice").await.unwrap().unwrap();
    assert_eq!((stored.password_hash.as_str(), stored.reset_required), ("$argon2id$stand-in", false));
    let change = LoginProfileChange { password_hash: Some("$argon2id$new".into()), reset_required: None };
    assert!(s.update_login_profile(account, "alice", &change).await.unwrap());
    let stored = s.login_profile(account, "alice").await.unwrap().unwrap();
    assert_eq!((stored.password_hash.as_str(), stored.reset_required), ("$argon2id$new", false));

    assert!(s.delete_login_profile(account, "alice").await.unwrap());
    assert!(!s.delete_login_profile(account, "alice").await.unwrap());
    assert!(!s.update_login_profile(account, "alice", &change).await.unwrap());
    assert_eq!(s.delete_user(account, "alice").await.unwrap(), DeleteUserOutcome::Deleted);
});

for_each_backend!(console_sessions_expire_when_idle_and_end_when_deleted, |s: Arc<dyn Store>| async move {
    let session = |hash: &str, last_seen_ms: i64| ConsoleSessionRow {
        token_hash: hash.into(),
        account: "111122223333".into(),
        user_name: Some("alice".into()),
        access_key_id: String::new(),
        csrf: format!("csrf-{hash}"),
        credential: format!("stamp-{hash}"),
        created_ms: 1,
        last_seen_ms,
    };
    s.insert_console_session(&session("a", 1_000)).await.unwrap();
    s.insert_console_session(&session("b", 5_000)).await.unwrap();
    s.insert_console_session(&ConsoleSessionRow { user_name: None, ..session("root", 5_000) }).await.unwrap();
    assert_eq!(s.console_session("a", 500).await.unwrap(), Some(session("a", 1_000)));
    assert_eq!(s.console_session("a", 2_000).await.unwrap(), None, "idle since before the cut-off");
    s.touch_console_session("a", 3_000).await.unwrap();
    assert!(s.console_session("a", 2_000).await.unwrap().is_some(), "a use keeps it alive");
    assert_eq!(s.console_session("root", 0).await.unwrap().unwrap().user_name, None);

    s.delete_idle_console_sessions(4_000).await.unwrap();
    assert_eq!(s.console_session("a", 0).await.unwrap(), None);
    s.delete_console_session("b").await.unwrap();
    assert_eq!(s.console_session("b", 0).await.unwrap(), None);
    assert!(s.console_session("root", 0).await.unwrap().is_some());
    assert_eq!(s.console_session("nope", 0).await.unwrap(), None);
});

fn rule(id: &str, group: &str, port: i64, peer: RulePeer) -> SecurityGroupRuleRow {
    SecurityGroupRuleRow {
        id: id.into(),
        group_id: group.into(),
        egress: false,
        protocol: IpProtocol::Tcp,
        from_port: port,
        to_port: port,
        peer,
        description: String::new(),
    }
}

fn group(id: &str, name: &str) -> SecurityGroupRow {
    SecurityGroupRow {
        id: id.into(),
        name: name.into(),
        description: "d".into(),
        created_ms: 1,
        rules: Vec::new(),
        tags: vec![Tag { key: "team".into(), value: "ops".into() }],
    }
}

// Names are unique ignoring case; a rule is added once; a group an instance is in, or
// another group's rule names, stays until they are gone.
for_each_backend!(security_groups_keep_their_rules_and_dependents, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    s.insert_security_group(&sc, &group("sg-1", "web")).await.unwrap();
    s.insert_security_group(&sc, &group("sg-2", "db")).await.unwrap();
    assert!(matches!(s.insert_security_group(&sc, &group("sg-3", "WEB")).await, Err(StoreError::Duplicate)));
    let ssh = rule("sgr-1", "sg-1", 22, RulePeer::Cidr("0.0.0.0/0".into()));
    assert_eq!(
        s.add_security_group_rules(&sc, "sg-1", std::slice::from_ref(&ssh), 60).await.unwrap(),
        AddRulesOutcome::Added
    );
    let twin = SecurityGroupRuleRow { id: "sgr-2".into(), ..ssh.clone() };
    assert_eq!(s.add_security_group_rules(&sc, "sg-1", &[twin], 60).await.unwrap(), AddRulesOutcome::Duplicate(ssh));
    let two = [
        rule("sgr-3", "sg-1", 80, RulePeer::Group("sg-2".into())),
        rule("sgr-4", "sg-1", 81, RulePeer::Cidr("::/0".into())),
    ];
    assert_eq!(s.add_security_group_rules(&sc, "sg-1", &two, 2).await.unwrap(), AddRulesOutcome::TooMany);
    assert_eq!(s.add_security_group_rules(&sc, "sg-1", &two, 60).await.unwrap(), AddRulesOutcome::Added);
    assert_eq!(s.add_security_group_rules(&sc, "sg-9", &two, 60).await.unwrap(), AddRulesOutcome::NotFound);
    let groups = s.security_groups(&sc).await.unwrap();
    let web = groups.iter().find(|g| g.id == "sg-1").unwrap();
    assert_eq!(web.rules.len(), 3);
    assert_eq!(web.tags, vec![Tag { key: "team".into(), value: "ops".into() }]);
    assert!(web.rules.iter().any(|r| r.peer == RulePeer::Cidr("::/0".into())));

    assert_eq!(s.delete_security_group(&sc, "sg-2").await.unwrap(), DeleteGroupOutcome::InUse, "sg-1's rule names it");
    let member = InstanceRow { security_groups: vec!["sg-1".into()], ..instance("i-1", InstanceState::Running) };
    s.insert_instances(&sc, &[member], limits(10)).await.unwrap();
    assert_eq!(s.instances(&sc, &[]).await.unwrap()[0].security_groups, vec!["sg-1".to_owned()]);
    assert_eq!(s.delete_security_group(&sc, "sg-1").await.unwrap(), DeleteGroupOutcome::InUse, "i-1 is in it");
    s.transition_instance(&sc, "i-1", &[InstanceState::Running], InstanceState::Terminated).await.unwrap();
    assert_eq!(s.delete_security_group_rules(&sc, "sg-1", &["sgr-3".into(), "sgr-9".into()]).await.unwrap(), 1);
    assert_eq!(s.delete_security_group(&sc, "sg-2").await.unwrap(), DeleteGroupOutcome::Deleted);
    assert_eq!(s.delete_security_group(&sc, "sg-1").await.unwrap(), DeleteGroupOutcome::Deleted);
    assert_eq!(s.delete_security_group(&sc, "sg-1").await.unwrap(), DeleteGroupOutcome::NotFound);
    assert!(s.security_groups(&sc).await.unwrap().is_empty());
    assert!(s.resource_tags(&sc, "sg-1").await.unwrap().is_empty(), "a group's tags go with it");
});

// Every SSH connection reads the groups: many at once must not wait on each other for pool
// connections (each used to hold one while asking the pool for a second, for the tags).
for_each_backend!(many_concurrent_group_reads_finish, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    s.insert_security_group(&sc, &group("sg-1", "web")).await.unwrap();
    let reads: Vec<_> = (0..40)
        .map(|_| {
            let (s, sc) = (s.clone(), sc.clone());
            tokio::spawn(async move { s.security_groups(&sc).await })
        })
        .collect();
    for read in reads {
        let groups = tokio::time::timeout(std::time::Duration::from_secs(5), read).await.expect("no stall");
        assert_eq!(groups.unwrap().unwrap().len(), 1);
    }
});

fn role(name: &str) -> RoleRow {
    RoleRow {
        role_id: crate::common::ids::iam_unique_id("AROA"),
        name: name.into(),
        path: "/".into(),
        trust_policy: "{}".into(),
        description: String::new(),
        max_session_seconds: 3600,
        created_ms: 1,
    }
}

fn managed_policy(account: &str, name: &str) -> ManagedPolicyRow {
    ManagedPolicyRow {
        policy_id: crate::common::ids::iam_unique_id("ANPA"),
        arn: format!("arn:aws:iam::{account}:policy/{name}"),
        name: name.into(),
        path: "/".into(),
        description: String::new(),
        default_version: 1,
        attachment_count: 0,
        created_ms: 1,
        updated_ms: 1,
    }
}

// Roles: names unique ignoring case; a role with inline or attached policies stays.
for_each_backend!(roles_keep_their_policies_until_detached, |s: Arc<dyn Store>| async move {
    let account = "111122223333";
    s.insert_role(account, &role("Ops")).await.unwrap();
    assert!(matches!(s.insert_role(account, &role("ops")).await, Err(StoreError::Duplicate)));
    assert_eq!(s.role(account, "OPS").await.unwrap().map(|r| r.name), Some("Ops".into()));
    assert!(s.put_role_policy(account, "ops", "p", "{}").await.unwrap());
    assert!(!s.put_role_policy(account, "nobody", "p", "{}").await.unwrap());
    assert_eq!(s.delete_role(account, "Ops").await.unwrap(), DeleteRoleOutcome::HasPolicies);
    assert!(s.delete_role_policy(account, "Ops", "p").await.unwrap());
    let aws = "arn:aws:iam::aws:policy/AdministratorAccess";
    assert_eq!(
        s.attach_policy(account, PrincipalKind::Role, "ops", aws, false, 1).await.unwrap(),
        AttachOutcome::Attached
    );
    assert_eq!(
        s.attach_policy(account, PrincipalKind::Role, "ops", aws, false, 1).await.unwrap(),
        AttachOutcome::Attached
    );
    let other = "arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess";
    let full = s.attach_policy(account, PrincipalKind::Role, "ops", other, false, 1).await.unwrap();
    assert_eq!(full, AttachOutcome::LimitExceeded);
    assert_eq!(s.attachment_count(account, aws).await.unwrap(), 1);
    assert_eq!(s.delete_role(account, "Ops").await.unwrap(), DeleteRoleOutcome::HasAttachedPolicies);
    assert!(s.detach_policy(account, PrincipalKind::Role, "OPS", aws).await.unwrap());
    assert_eq!(s.delete_role(account, "Ops").await.unwrap(), DeleteRoleOutcome::Deleted);
    assert_eq!(s.delete_role(account, "Ops").await.unwrap(), DeleteRoleOutcome::NotFound);
});

// Managed policies: up to a limit of versions, numbers never reused, the default one kept,
// and a policy attached or with versions left is not deleted.
for_each_backend!(managed_policies_keep_versions_and_attachments, |s: Arc<dyn Store>| async move {
    let account = "111122223333";
    let policy = managed_policy(account, "readers");
    s.insert_policy(account, &policy, "{\"v\":1}").await.unwrap();
    assert!(matches!(
        s.insert_policy(account, &managed_policy(account, "READERS"), "{}").await,
        Err(StoreError::Duplicate)
    ));
    let arn = policy.arn.as_str();
    assert_eq!(s.insert_policy_version(account, arn, "{\"v\":2}", true, 3).await.unwrap(), Ok(2));
    assert_eq!(s.insert_policy_version(account, arn, "{\"v\":3}", false, 3).await.unwrap(), Ok(3));
    assert_eq!(s.insert_policy_version(account, arn, "{}", false, 3).await.unwrap(), Err(PolicyChange::Conflict));
    assert_eq!(s.policy(account, arn).await.unwrap().map(|p| p.default_version), Some(2));
    assert_eq!(s.delete_policy_version(account, arn, 2).await.unwrap(), PolicyChange::Conflict, "the default stays");
    assert_eq!(s.delete_policy_version(account, arn, 3).await.unwrap(), PolicyChange::Done);
    assert_eq!(s.insert_policy_version(account, arn, "{\"v\":4}", false, 3).await.unwrap(), Ok(4), "3 is not reused");
    assert_eq!(s.set_default_policy_version(account, arn, 9).await.unwrap(), PolicyChange::NotFound);
    s.insert_user(account, &user("carol")).await.unwrap();
    assert_eq!(
        s.attach_policy(account, PrincipalKind::User, "carol", arn, true, 10).await.unwrap(),
        AttachOutcome::Attached
    );
    let missing = "arn:aws:iam::111122223333:policy/nope";
    assert_eq!(
        s.attach_policy(account, PrincipalKind::User, "carol", missing, true, 10).await.unwrap(),
        AttachOutcome::NoPolicy
    );
    assert_eq!(
        s.attach_policy(account, PrincipalKind::User, "dave", arn, true, 10).await.unwrap(),
        AttachOutcome::NoPrincipal
    );
    assert_eq!(s.policy(account, arn).await.unwrap().map(|p| p.attachment_count), Some(1));
    assert_eq!(s.delete_user(account, "carol").await.unwrap(), DeleteUserOutcome::HasAttachedPolicies);
    assert_eq!(s.delete_policy(account, arn).await.unwrap(), PolicyChange::Conflict);
    assert!(s.detach_policy(account, PrincipalKind::User, "carol", arn).await.unwrap());
    assert_eq!(s.delete_policy(account, arn).await.unwrap(), PolicyChange::Conflict, "versions 1 and 4 are left");
    s.delete_policy_version(account, arn, 1).await.unwrap();
    s.delete_policy_version(account, arn, 4).await.unwrap();
    assert_eq!(s.delete_policy(account, arn).await.unwrap(), PolicyChange::Done);
    assert!(s.policy_versions(account, arn).await.unwrap().is_empty());
});

// STS sessions: found by key id with their issuer; long-expired ones are forgotten.
for_each_backend!(sessions_are_found_until_long_expired, |s: Arc<dyn Store>| async move {
    let session = |id: &str, expires_ms| SessionRow {
        access_key_id: id.into(),
        account: "111122223333".into(),
        sealed_secret: "sealed".into(),
        token_digest: "digest".into(),
        issuer: SessionIssuer::Role { name: "ops".into(), id: "AROAEXAMPLE".into() },
        session_name: "s1".into(),
        created_ms: 1,
        expires_ms,
    };
    s.insert_session(&session("ASIAOLD", 10), 0).await.unwrap();
    assert_eq!(s.session("ASIAOLD").await.unwrap(), Some(session("ASIAOLD", 10)));
    s.insert_session(&SessionRow { issuer: SessionIssuer::Root, ..session("ASIANEW", 1000) }, 100).await.unwrap();
    assert_eq!(s.session("ASIAOLD").await.unwrap(), None, "expired before the horizon");
    assert_eq!(s.session("ASIANEW").await.unwrap().map(|r| r.issuer), Some(SessionIssuer::Root));
});

fn stack(id: &str, name: &str, status: StackStatus) -> StackRow {
    StackRow {
        id: id.into(),
        name: name.into(),
        status,
        created_ms: id.len() as i64,
        deleted_ms: None,
        owner: String::new(),
        lease_ms: 0,
        record: StackRecord {
            template_body: "Resources: {}".into(),
            caller: "arn:aws:iam::111122223333:root".into(),
            resources: vec![StackResource {
                logical_id: "Key".into(),
                kind: "AWS::EC2::KeyPair".into(),
                physical_id: Some("k".into()),
                status: ResourceStatus::CreateComplete,
                reason: None,
                updated_ms: 5,
                attributes: serde_json::Map::from_iter([("KeyPairId".to_owned(), serde_json::json!("key-1"))]),
                properties: serde_json::json!({"KeyName": "k"}),
                retain: false,
                token: Some("t-1".into()),
            }],
            on_failure: Some(OnFailure::Rollback),
            ..StackRecord::default()
        },
    }
}

for_each_backend!(one_live_stack_per_name_and_saves_check_the_status, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let mut first = stack("arn:stack/a/1", "a", StackStatus::CreateInProgress);
    s.insert_stack(&sc, &first).await.unwrap();
    assert!(matches!(
        s.insert_stack(&sc, &stack("arn:stack/a/2", "a", StackStatus::CreateInProgress)).await,
        Err(StoreError::Duplicate)
    ));
    s.insert_stack(&scope("eu-west-1"), &stack("arn:stack/a/3", "a", StackStatus::CreateInProgress)).await.unwrap();
    assert_eq!(s.stack(&sc, "a").await.unwrap().unwrap(), first, "the document round-trips");
    assert_eq!(s.stack(&sc, "arn:stack/a/1").await.unwrap().unwrap().name, "a");

    // A save checks the status it expects; a stale writer loses.
    first.status = StackStatus::CreateComplete;
    assert!(s.save_stack(&sc, &first, StackStatus::CreateInProgress).await.unwrap());
    assert!(!s.save_stack(&sc, &first, StackStatus::CreateInProgress).await.unwrap());
    assert!(s.stacks_in_progress().await.unwrap().iter().all(|(_, r)| r.id != first.id));

    // Deleted, the name is free again and the old stack is found by its id only.
    first.status = StackStatus::DeleteComplete;
    first.deleted_ms = Some(9);
    assert!(s.save_stack(&sc, &first, StackStatus::CreateComplete).await.unwrap());
    assert!(s.stack(&sc, "a").await.unwrap().is_none());
    s.insert_stack(&sc, &stack("arn:stack/a/4", "a", StackStatus::CreateInProgress)).await.unwrap();
    assert_eq!(s.stack(&sc, "arn:stack/a/1").await.unwrap().unwrap().status, StackStatus::DeleteComplete);
    assert_eq!(s.stacks(&sc).await.unwrap().len(), 2);
    // Deleted stacks are forgotten after their time, live ones never.
    s.prune_stacks(9).await.unwrap();
    assert_eq!(s.stacks(&sc).await.unwrap().len(), 2, "deleted at 9, kept until after it");
    s.prune_stacks(10).await.unwrap();
    let left: Vec<String> = s.stacks(&sc).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(left, ["arn:stack/a/4"]);
});

for_each_backend!(a_stack_is_run_by_one_replica_until_its_lease_ends, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let row = stack("arn:stack/b/1", "b", StackStatus::CreateInProgress);
    s.insert_stack(&sc, &row).await.unwrap();
    assert!(s.claim_stack(&sc, &row.id, "replica-a", 1_000, 0).await.unwrap());
    assert!(!s.claim_stack(&sc, &row.id, "replica-b", 2_000, 500).await.unwrap(), "held until 1000");
    assert!(s.claim_stack(&sc, &row.id, "replica-a", 2_000, 500).await.unwrap(), "the holder renews");
    assert!(s.claim_stack(&sc, &row.id, "replica-b", 9_000, 2_001).await.unwrap(), "taken over once it lapsed");
    let mut stale = row.clone();
    stale.owner = "replica-a".into();
    stale.status = StackStatus::RollbackInProgress;
    assert!(!s.save_stack(&sc, &stale, StackStatus::CreateInProgress).await.unwrap(), "a former holder cannot write");
    assert!(s.stacks_in_progress().await.unwrap().iter().any(|(scope, r)| r.id == row.id && *scope == sc));

    assert_eq!(s.stack_delete_requested(&sc, &row.id).await.unwrap(), None);
    assert!(s.request_stack_delete(&sc, &row.id, "arn:aws:iam::1:user/carol", Some("AIDACAROL")).await.unwrap());
    assert_eq!(
        s.stack_delete_requested(&sc, &row.id).await.unwrap(),
        Some(("arn:aws:iam::1:user/carol".to_owned(), Some("AIDACAROL".to_owned())))
    );
    // The delete starting takes the request up.
    let mut deleting = row.clone();
    deleting.owner = "replica-b".into();
    deleting.status = StackStatus::DeleteInProgress;
    assert!(s.save_stack(&sc, &deleting, StackStatus::CreateInProgress).await.unwrap());
    assert_eq!(s.stack_delete_requested(&sc, &row.id).await.unwrap(), None);
    // A stack no operation runs on is not marked: the caller deletes it at once instead.
    deleting.status = StackStatus::DeleteFailed;
    assert!(s.save_stack(&sc, &deleting, StackStatus::DeleteInProgress).await.unwrap());
    assert!(!s.request_stack_delete(&sc, &row.id, "arn:aws:iam::1:user/carol", None).await.unwrap());

    for n in 0..3 {
        let event = StackEvent {
            event_id: format!("e-{n}"),
            timestamp_ms: n,
            logical_id: "b".into(),
            physical_id: Some(row.id.clone()),
            kind: "AWS::CloudFormation::Stack".into(),
            status: "CREATE_IN_PROGRESS".into(),
            reason: None,
            properties: None,
        };
        s.add_stack_event(&row.id, &event).await.unwrap();
    }
    let ids: Vec<String> = s.stack_events(&row.id).await.unwrap().into_iter().map(|e| e.event_id).collect();
    assert_eq!(ids, ["e-2", "e-1", "e-0"], "newest first");
});

for_each_backend!(an_instance_profile_holds_one_role_which_then_cannot_be_deleted, |s: Arc<dyn Store>| async move {
    let profile = |name: &str| InstanceProfileRow {
        profile_id: format!("AIPA{name}"),
        name: name.into(),
        path: "/".into(),
        role: None,
        created_ms: 1,
    };
    s.insert_role("111122223333", &role("web")).await.unwrap();
    s.insert_role("111122223333", &role("other")).await.unwrap();
    s.insert_instance_profile("111122223333", &profile("web-profile")).await.unwrap();
    assert!(matches!(
        s.insert_instance_profile("111122223333", &profile("WEB-PROFILE")).await,
        Err(StoreError::Duplicate)
    ));
    let add = |profile: &'static str, role: &'static str| {
        let s = s.clone();
        async move { s.add_role_to_instance_profile("111122223333", profile, role).await.unwrap() }
    };
    assert_eq!(add("nope", "web").await, AddRoleOutcome::NoProfile);
    assert_eq!(add("web-profile", "nope").await, AddRoleOutcome::NoRole);
    assert_eq!(add("web-profile", "WEB").await, AddRoleOutcome::Added);
    assert_eq!(add("web-profile", "other").await, AddRoleOutcome::Full);
    let found = s.instance_profile("111122223333", "Web-Profile").await.unwrap().unwrap();
    assert_eq!(found.role.as_deref(), Some("web"), "the role's name as stored");
    assert_eq!(s.delete_role("111122223333", "web").await.unwrap(), DeleteRoleOutcome::InInstanceProfile);
    assert_eq!(s.delete_instance_profile("111122223333", "web-profile").await.unwrap(), DeleteProfileOutcome::HasRole);
    assert!(!s.remove_role_from_instance_profile("111122223333", "web-profile", "other").await.unwrap());
    assert!(s.remove_role_from_instance_profile("111122223333", "web-profile", "web").await.unwrap());
    assert_eq!(s.delete_instance_profile("111122223333", "web-profile").await.unwrap(), DeleteProfileOutcome::Deleted);
    assert_eq!(s.delete_instance_profile("111122223333", "web-profile").await.unwrap(), DeleteProfileOutcome::NotFound);
    assert_eq!(s.delete_role("111122223333", "web").await.unwrap(), DeleteRoleOutcome::Deleted);
    assert!(s.instance_profiles("111122223333").await.unwrap().is_empty());
});

fn launch_template(id: &str, name: &str) -> (LaunchTemplateRow, LaunchTemplateVersionRow) {
    let row = LaunchTemplateRow {
        id: id.into(),
        name: name.into(),
        default_version: 1,
        latest_version: 1,
        created_ms: 7,
        created_by: "arn:aws:iam::111122223333:root".into(),
        client_token: Some("token".into()),
    };
    let data = LaunchTemplateData {
        image_id: Some("ami-keyfleet-linux".into()),
        key_name: Some("fleet".into()),
        security_group_ids: vec!["sg-1".into()],
        tag_specifications: vec![TemplateTags {
            resource_type: "instance".into(),
            tags: vec![("k".into(), "v".into())],
        }],
        http_tokens: Some(HttpTokens::Required),
        ..LaunchTemplateData::default()
    };
    let version = LaunchTemplateVersionRow {
        version: 1,
        description: Some("first".into()),
        data,
        created_ms: 7,
        created_by: row.created_by.clone(),
    };
    (row, version)
}

for_each_backend!(launch_template_versions_number_on_and_keep_their_default, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let (row, first) = launch_template("lt-1", "web");
    s.insert_launch_template(&sc, &row, &first, 2).await.unwrap();
    assert!(matches!(
        s.insert_launch_template(&sc, &launch_template("lt-2", "web").0, &first, 2).await,
        Err(StoreError::Duplicate)
    ));
    s.insert_launch_template(&sc, &launch_template("lt-3", "api").0, &first, 2).await.unwrap();
    assert!(matches!(
        s.insert_launch_template(&sc, &launch_template("lt-4", "db").0, &first, 2).await,
        Err(StoreError::QuotaExceeded(2))
    ));
    assert_eq!(
        s.launch_template_versions(&sc, "lt-1").await.unwrap(),
        std::slice::from_ref(&first),
        "the data round-trips"
    );
    assert_eq!(s.launch_template_version(&sc, "lt-1", 1).await.unwrap(), Some(first.clone()));
    assert_eq!(s.launch_template_version(&sc, "lt-1", 2).await.unwrap(), None);
    assert_eq!(s.launch_templates(&sc).await.unwrap()[0], row, "the row round-trips");
    assert!(s.launch_template_versions(&scope("eu-west-1"), "lt-1").await.unwrap().is_empty(), "scoped");

    let second = LaunchTemplateVersionRow { version: 99, description: None, ..first.clone() };
    assert_eq!(s.insert_launch_template_version(&sc, "lt-1", &second, false, 3).await.unwrap(), Ok(2));
    assert_eq!(s.insert_launch_template_version(&sc, "lt-1", &second, true, 3).await.unwrap(), Ok(3));
    assert_eq!(
        s.insert_launch_template_version(&sc, "lt-1", &second, false, 3).await.unwrap(),
        Err(NewVersionRefused::TooManyVersions)
    );
    assert_eq!(
        s.insert_launch_template_version(&sc, "lt-9", &second, false, 3).await.unwrap(),
        Err(NewVersionRefused::NoTemplate)
    );
    let template = s.launch_templates(&sc).await.unwrap().into_iter().find(|t| t.id == "lt-1").unwrap();
    assert_eq!((template.default_version, template.latest_version), (3, 3));

    // The default stays; deleted numbers are not given again.
    let outcomes = s.delete_launch_template_versions(&sc, "lt-1", &[3, 2, 8]).await.unwrap();
    assert_eq!(outcomes, [VersionDeletion::IsDefault, VersionDeletion::Deleted, VersionDeletion::NotFound]);
    assert!(!s.set_default_launch_template_version(&sc, "lt-1", 2).await.unwrap());
    assert!(s.set_default_launch_template_version(&sc, "lt-1", 1).await.unwrap());
    assert_eq!(s.delete_launch_template_versions(&sc, "lt-1", &[3]).await.unwrap(), [VersionDeletion::Deleted]);
    let template = s.launch_templates(&sc).await.unwrap().into_iter().find(|t| t.id == "lt-1").unwrap();
    assert_eq!(template.latest_version, 1, "$Latest is the highest version left");
    assert_eq!(s.insert_launch_template_version(&sc, "lt-1", &second, false, 3).await.unwrap(), Ok(4));

    assert!(s.delete_launch_template(&sc, "lt-1").await.unwrap());
    assert!(!s.delete_launch_template(&sc, "lt-1").await.unwrap());
    assert!(s.launch_template_versions(&sc, "lt-1").await.unwrap().is_empty());
    s.insert_launch_template(&sc, &launch_template("lt-5", "web").0, &first, 2).await.unwrap();
});

fn group_row(name: &str) -> GroupRow {
    GroupRow {
        name: name.into(),
        revision: 0,
        owner: String::new(),
        lease_ms: 0,
        record: GroupRecord {
            uuid: "u-1".into(),
            created_ms: 5,
            template: GroupTemplate { id: "lt-1".into(), name: "web".into(), version: Some("$Latest".into()) },
            min_size: 1,
            max_size: 3,
            desired: 2,
            default_cooldown: 300,
            grace_period: 0,
            zones: vec!["us-east-1a".into()],
            subnets: Vec::new(),
            tags: vec![GroupTag { key: "team".into(), value: "ops".into(), propagate: true }],
            members: vec![Member {
                id: "i-1".into(),
                zone: "us-east-1a".into(),
                instance_type: "t3.micro".into(),
                lifecycle: Lifecycle::InService,
                health: Health::Healthy,
                template_version: 1,
                removal: None,
                activity: None,
                in_service_ms: Some(6),
            }],
            launching: Some(PendingLaunch { activity: "a-1".into(), token: "t-1".into() }),
            cause: None,
            failures: 0,
            next_launch_ms: 0,
            refresh: None,
            deleting: false,
        },
    }
}

fn activity(id: &str, group: &str, start_ms: i64) -> Activity {
    Activity {
        id: id.into(),
        group: group.into(),
        description: "Launching a new EC2 instance".into(),
        cause: "At … a user request".into(),
        start_ms,
        end_ms: None,
        status: ActivityStatus::InProgress,
        message: None,
        progress: 30,
        details: "{}".into(),
    }
}

for_each_backend!(groups_save_against_their_revision_and_keep_the_newest_activities, |s: Arc<dyn Store>| async move {
    let sc = scope("us-east-1");
    let row = group_row("web");
    s.insert_group(&sc, &row, 2).await.unwrap();
    assert!(matches!(s.insert_group(&sc, &group_row("web"), 2).await, Err(StoreError::Duplicate)));
    s.insert_group(&sc, &group_row("api"), 2).await.unwrap();
    assert!(matches!(s.insert_group(&sc, &group_row("db"), 2).await, Err(StoreError::QuotaExceeded(2))));
    assert_eq!(s.group(&sc, "web").await.unwrap().unwrap(), row, "the document round-trips");

    // A writer that read revision 0 wins once; a second writer from revision 0 loses.
    let mut first = row.clone();
    first.record.desired = 3;
    assert!(s.save_group(&sc, &first).await.unwrap());
    let mut stale = row.clone();
    stale.record.desired = 1;
    assert!(!s.save_group(&sc, &stale).await.unwrap());
    let now = s.group(&sc, "web").await.unwrap().unwrap();
    assert_eq!((now.revision, now.record.desired), (1, 3));

    // One replica holds a group until its lease lapses.
    assert!(s.claim_group(&sc, "web", "r1", 100, 0).await.unwrap());
    assert!(!s.claim_group(&sc, "web", "r2", 200, 50).await.unwrap());
    assert!(s.claim_group(&sc, "web", "r2", 200, 150).await.unwrap());
    assert_eq!(s.all_groups().await.unwrap().len(), 2);

    for n in 0..5 {
        s.put_activity(&sc, &activity(&format!("a-{n}"), "web", n), 3).await.unwrap();
    }
    s.put_activity(&sc, &activity("b-1", "api", 1), 3).await.unwrap();
    let kept: Vec<String> = s.activities(&sc, Some("web")).await.unwrap().into_iter().map(|a| a.id).collect();
    assert_eq!(kept, ["a-4", "a-3", "a-2"], "newest first, three kept");
    let mut done = activity("a-4", "web", 4);
    done.status = ActivityStatus::Successful;
    s.put_activity(&sc, &done, 3).await.unwrap();
    assert_eq!(s.activities(&sc, None).await.unwrap().len(), 4);
    assert_eq!(s.activities(&sc, Some("web")).await.unwrap()[0].status, ActivityStatus::Successful);

    assert!(!s.delete_group(&sc, "web", 0).await.unwrap(), "a stale delete loses");
    assert!(s.delete_group(&sc, "web", 1).await.unwrap());
    assert!(s.group(&sc, "web").await.unwrap().is_none());
});
