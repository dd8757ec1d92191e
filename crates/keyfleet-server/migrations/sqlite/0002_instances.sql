-- Built-in instances. The volume and the SSH host key live on disk under the data dir;
-- these rows hold what the EC2 API reports.
CREATE TABLE instances (
    id             TEXT    NOT NULL PRIMARY KEY,   -- i- + 17 hex
    account        TEXT    NOT NULL,
    region         TEXT    NOT NULL,
    reservation_id TEXT    NOT NULL,
    image_id       TEXT    NOT NULL,
    instance_type  TEXT    NOT NULL,
    key_name       TEXT,                           -- kept after the key pair is deleted, as on EC2
    state          TEXT    NOT NULL,               -- pending | running | shutting-down | terminated | stopping | stopped
    address        TEXT    NOT NULL,               -- its own loopback address, 127.x.y.z
    volume_id      TEXT    NOT NULL,
    launch_index   INTEGER NOT NULL,
    launch_ms      INTEGER NOT NULL,
    user_data      TEXT,
    launch_key     TEXT,                           -- the key pair's public key at launch: IMDS serves it frozen
    http_tokens    TEXT    NOT NULL DEFAULT 'optional'   -- MetadataOptions.HttpTokens: optional | required
);
CREATE INDEX instances_by_scope ON instances (account, region, launch_ms, id);
-- An address is free again once its instance is terminated.
CREATE UNIQUE INDEX instances_live_address ON instances (address) WHERE state <> 'terminated';
