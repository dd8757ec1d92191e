-- Built-in instances. The volume and the SSH host key live on disk under the data dir;
-- these rows hold what the EC2 API reports.
CREATE TABLE instances (
    id             TEXT COLLATE "C"    NOT NULL PRIMARY KEY,   -- i- + 17 hex
    account        TEXT COLLATE "C"    NOT NULL,
    region         TEXT COLLATE "C"    NOT NULL,
    reservation_id TEXT COLLATE "C"    NOT NULL,
    image_id       TEXT COLLATE "C"    NOT NULL,
    instance_type  TEXT COLLATE "C"    NOT NULL,
    key_name       TEXT COLLATE "C",                           -- kept after the key pair is deleted, as on EC2
    state          TEXT COLLATE "C"    NOT NULL,               -- pending | running | shutting-down | terminated | stopping | stopped
    address        TEXT COLLATE "C"    NOT NULL,               -- its own loopback address, 127.x.y.z
    volume_id      TEXT COLLATE "C"    NOT NULL,
    launch_index   BIGINT NOT NULL,
    launch_ms      BIGINT NOT NULL,
    user_data      TEXT COLLATE "C",
    launch_key     TEXT COLLATE "C",                           -- the key pair's public key at launch: IMDS serves it frozen
    http_tokens    TEXT COLLATE "C"    NOT NULL DEFAULT 'optional'   -- MetadataOptions.HttpTokens: optional | required
);
CREATE INDEX instances_by_scope ON instances (account, region, launch_ms, id);
-- An address is free again once its instance is terminated.
CREATE UNIQUE INDEX instances_live_address ON instances (address) WHERE state <> 'terminated';
