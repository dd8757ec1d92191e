-- Keys pushed with EC2 Instance Connect, until they expire. In the store, not in one
-- replica's memory, so that whichever replica received SendSSHPublicKey, the replica that
-- serves the instance accepts the key.
CREATE TABLE pushed_keys (
    instance_id TEXT COLLATE "C" NOT NULL,   -- instance ids are unique across scopes
    os_user     TEXT COLLATE "C" NOT NULL,
    public_key  TEXT COLLATE "C" NOT NULL,   -- an OpenSSH public key line
    expires_ms  BIGINT NOT NULL
);
CREATE INDEX pushed_keys_by_login ON pushed_keys (instance_id, os_user, expires_ms);
-- Expired keys are dropped at each push.
CREATE INDEX pushed_keys_by_expiry ON pushed_keys (expires_ms);
