-- PostgreSQL: the same schema as migrations/sqlite, with BIGINT for 64-bit columns and
-- byte-order ("C") collation, so that ORDER BY gives the same order on both backends.
-- Key pairs: public halves only. Private key material is never stored.
CREATE TABLE key_pairs (
    id          TEXT COLLATE "C"    NOT NULL PRIMARY KEY,      -- key- + 17 hex
    account     TEXT COLLATE "C"    NOT NULL,
    region      TEXT COLLATE "C"    NOT NULL,
    name        TEXT COLLATE "C"    NOT NULL,
    key_type    TEXT COLLATE "C"    NOT NULL,                  -- rsa | ed25519
    fingerprint TEXT COLLATE "C"    NOT NULL,
    public_key  TEXT COLLATE "C"    NOT NULL,                  -- "<alg> <base64>", no comment
    created_ms  BIGINT NOT NULL,
    UNIQUE (account, region, name)
);
CREATE INDEX key_pairs_by_fingerprint ON key_pairs (account, region, fingerprint);
CREATE INDEX key_pairs_by_created ON key_pairs (account, region, created_ms, id);

-- One row per (account, region): the count the quota is checked against. Updating it in
-- the same transaction as the insert makes the quota exact under concurrency, also on
-- backends with row-level locking (PostgreSQL), where COUNT(*) would race.
CREATE TABLE key_pair_counts (
    account TEXT COLLATE "C"    NOT NULL,
    region  TEXT COLLATE "C"    NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (account, region)
);

-- Tags of any resource, addressed by its id (key-…, later i-…, vol-…).
CREATE TABLE tags (
    account       TEXT COLLATE "C" NOT NULL,
    region        TEXT COLLATE "C" NOT NULL,
    resource_id   TEXT COLLATE "C" NOT NULL,
    resource_type TEXT COLLATE "C" NOT NULL,
    key           TEXT COLLATE "C" NOT NULL,
    value         TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account, region, resource_id, key)
);
CREATE INDEX tags_by_key ON tags (account, region, resource_type, key);
