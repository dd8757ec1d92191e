-- The audit log: append-only. One row per API call or SSH authentication attempt; the
-- full record is JSON (CloudTrail's event shape), with the columns LookupEvents filters on.
CREATE TABLE audit_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT    NOT NULL UNIQUE,
    account      TEXT    NOT NULL,
    region       TEXT    NOT NULL,
    time_ms      INTEGER NOT NULL,
    event_name   TEXT    NOT NULL,
    event_source TEXT    NOT NULL,
    username     TEXT    NOT NULL,
    access_key   TEXT    NOT NULL,
    read_only    INTEGER NOT NULL,   -- 0 | 1
    record       TEXT    NOT NULL
);
CREATE INDEX audit_events_by_time ON audit_events (account, region, time_ms);

CREATE TABLE audit_resources (
    seq           INTEGER NOT NULL REFERENCES audit_events (seq),
    position      INTEGER NOT NULL,
    resource_type TEXT    NOT NULL,
    resource_name TEXT    NOT NULL,
    PRIMARY KEY (seq, position)
);
CREATE INDEX audit_resources_by_name ON audit_resources (resource_name, seq);
