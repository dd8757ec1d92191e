-- The audit log: append-only. One row per API call or SSH authentication attempt; the
-- full record is JSON (CloudTrail's event shape), with the columns LookupEvents filters on.
CREATE TABLE audit_events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     TEXT COLLATE "C"    NOT NULL UNIQUE,
    account      TEXT COLLATE "C"    NOT NULL,
    region       TEXT COLLATE "C"    NOT NULL,
    time_ms      BIGINT NOT NULL,
    event_name   TEXT COLLATE "C"    NOT NULL,
    event_source TEXT COLLATE "C"    NOT NULL,
    username     TEXT COLLATE "C"    NOT NULL,
    access_key   TEXT COLLATE "C"    NOT NULL,
    read_only    BIGINT NOT NULL,   -- 0 | 1
    record       TEXT COLLATE "C"    NOT NULL
);
CREATE INDEX audit_events_by_time ON audit_events (account, region, time_ms);

CREATE TABLE audit_resources (
    seq           BIGINT NOT NULL REFERENCES audit_events (seq),
    position      BIGINT NOT NULL,
    resource_type TEXT COLLATE "C"    NOT NULL,
    resource_name TEXT COLLATE "C"    NOT NULL,
    PRIMARY KEY (seq, position)
);
CREATE INDEX audit_resources_by_name ON audit_resources (resource_name, seq);
