//! The hot writes on SQLite (`CreateKeyPair`/`ImportKeyPair`, `DeleteKeyPair` and audit
//! records), as the group commit runs them: on its own connection, on its own thread, through
//! rusqlite (see [`super::writer`]). Each statement is a plain call into SQLite there; through
//! sqlx's driver every statement was a round trip to the connection's worker thread, about
//! 50 µs of thread wake-ups for a statement that takes SQLite a few µs.
//!
//! The SQL is the store's usual SQL with SQLite's `?N` parameters, and the statements stay
//! prepared between calls (rusqlite's statement cache).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, ffi, params};

use super::{AuditRow, KeyPairRow, Scope, StoreError, Tag};

/// Takes a quota slot, inserts the key pair and its tags. A failure leaves the slot taken:
/// the caller's transaction must roll back on any error, which gives the slot back.
pub(super) fn insert_key_pair(
    conn: &Connection,
    scope: &Scope,
    row: &KeyPairRow,
    quota: u32,
) -> Result<(), StoreError> {
    // The conditional upsert both checks the quota and takes the slot.
    let slot = conn
        .prepare_cached(
            "INSERT INTO key_pair_counts (account, region, n) VALUES (?1, ?2, 1)
             ON CONFLICT (account, region) DO UPDATE SET n = key_pair_counts.n + 1 WHERE key_pair_counts.n < ?3",
        )?
        .execute(params![scope.account, scope.region, quota])?;
    if slot == 0 {
        return Err(StoreError::QuotaExceeded(quota));
    }
    let inserted = conn
        .prepare_cached(
            "INSERT INTO key_pairs (id, account, region, name, key_type, fingerprint, public_key, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            row.id,
            scope.account,
            scope.region,
            row.name,
            row.key_type.as_str(),
            row.fingerprint,
            row.public_key,
            row.created_ms
        ]);
    unique(inserted)?;
    insert_tags(conn, scope, &row.id, "key-pair", &row.tags)
}

/// Deletes the key pair whose name (or, with `by_id`, id) is `value`, then its tags and its
/// quota slot; its id, if there was one.
pub(super) fn delete_key_pair(
    conn: &Connection,
    scope: &Scope,
    by_id: bool,
    value: &str,
) -> Result<Option<String>, StoreError> {
    let sql = if by_id {
        "DELETE FROM key_pairs WHERE account = ?1 AND region = ?2 AND id = ?3 RETURNING id"
    } else {
        "DELETE FROM key_pairs WHERE account = ?1 AND region = ?2 AND name = ?3 RETURNING id"
    };
    let deleted: Option<String> =
        conn.prepare_cached(sql)?.query_row(params![scope.account, scope.region, value], |r| r.get(0)).optional()?;
    if let Some(id) = &deleted {
        conn.prepare_cached("DELETE FROM tags WHERE account = ?1 AND region = ?2 AND resource_id = ?3")?
            .execute(params![scope.account, scope.region, id])?;
        conn.prepare_cached("UPDATE key_pair_counts SET n = n - 1 WHERE account = ?1 AND region = ?2")?
            .execute(params![scope.account, scope.region])?;
    }
    Ok(deleted)
}

/// Appends audit records and the resources each names.
pub(super) fn append_audit(conn: &Connection, rows: &[AuditRow]) -> Result<(), StoreError> {
    let mut event = conn.prepare_cached(
        "INSERT INTO audit_events (event_id, account, region, time_ms, event_name, event_source, username,
                                   access_key, read_only, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING seq",
    )?;
    let mut resource = conn.prepare_cached(
        "INSERT INTO audit_resources (seq, position, resource_type, resource_name) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for row in rows {
        let seq: i64 = event.query_row(
            params![
                row.event_id,
                row.account,
                row.region,
                row.time_ms,
                row.event_name,
                row.event_source,
                row.username,
                row.access_key,
                row.read_only,
                row.record
            ],
            |r| r.get(0),
        )?;
        for (position, (kind, name)) in (0_i64..).zip(&row.resources) {
            resource.execute(params![seq, position, kind, name])?;
        }
    }
    Ok(())
}

fn insert_tags(
    conn: &Connection,
    scope: &Scope,
    resource_id: &str,
    kind: &str,
    tags: &[Tag],
) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO tags (account, region, resource_id, resource_type, key, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (account, region, resource_id, key) DO UPDATE SET value = excluded.value",
    )?;
    for tag in tags {
        insert.execute(params![scope.account, scope.region, resource_id, kind, tag.key, tag.value])?;
    }
    Ok(())
}

/// A statement's result, with a unique-constraint violation reported as [`StoreError::Duplicate`].
fn unique<T>(result: rusqlite::Result<T>) -> Result<T, StoreError> {
    match result {
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.extended_code, ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY) =>
        {
            Err(StoreError::Duplicate)
        }
        other => Ok(other?),
    }
}

/// How long the WAL grows before the group commit's connection checkpoints it (16 MiB in
/// 4 KiB pages).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 4000;

/// Opens the group commit's connection to the database at `path`, which exists and is
/// migrated. With `wal_synced`, its commits leave the WAL's sync to the writer's WAL thread.
pub(super) fn open_group_connection(path: &Path, wal_synced: bool) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "synchronous", if wal_synced { "NORMAL" } else { "FULL" })?;
    // A checkpoint holds up every write queued behind it. Checkpointing a longer WAL copies
    // back fewer pages per write, since the hot pages (counters, index roots, the newest audit
    // page) appear in many frames but are copied once: measured, deletes ran about 8% faster
    // than with SQLite's default of 1000 pages. A checkpoint on a thread of its own was
    // measured too, and made creates slower: its syncs compete with the WAL's.
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
    Ok(conn)
}
