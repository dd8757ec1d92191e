-- Key pairs: public halves only. Private key material is never stored.
CREATE TABLE key_pairs (
    id          TEXT    NOT NULL PRIMARY KEY,      -- key- + 17 hex
    account     TEXT    NOT NULL,
    region      TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    key_type    TEXT    NOT NULL,                  -- rsa | ed25519
    fingerprint TEXT    NOT NULL,
    public_key  TEXT    NOT NULL,                  -- "<alg> <base64>", no comment
    created_ms  INTEGER NOT NULL,
    UNIQUE (account, region, name)
);
CREATE INDEX key_pairs_by_fingerprint ON key_pairs (account, region, fingerprint);
CREATE INDEX key_pairs_by_created ON key_pairs (account, region, created_ms, id);

-- One row per (account, region): the count the quota is checked against. Updating it in
-- the same transaction as the insert makes the quota exact under concurrency, also on
-- backends with row-level locking (PostgreSQL), where COUNT(*) would race.
CREATE TABLE key_pair_counts (
    account TEXT    NOT NULL,
    region  TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (account, region)
);

-- Tags of any resource, addressed by its id (key-…, later i-…, vol-…).
CREATE TABLE tags (
    account       TEXT NOT NULL,
    region        TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (account, region, resource_id, key)
);
CREATE INDEX tags_by_key ON tags (account, region, resource_type, key);
