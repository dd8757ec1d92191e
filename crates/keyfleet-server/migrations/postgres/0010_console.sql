-- IAM login profiles: a user's console password, as an Argon2id PHC string (never the
-- password). One per user; the user name is matched ignoring case, as IAM's are.
CREATE TABLE iam_login_profiles (
    account        TEXT COLLATE "C" NOT NULL,
    user_name      TEXT COLLATE "C" NOT NULL,
    password_hash  TEXT COLLATE "C" NOT NULL,
    reset_required INTEGER NOT NULL,
    created_ms     BIGINT NOT NULL
);
CREATE UNIQUE INDEX iam_login_profiles_by_user ON iam_login_profiles (account, lower(user_name));

-- Console sessions, in the store so that every replica accepts them. The cookie's token is
-- kept only as its SHA-256, so a copy of the database cannot sign anyone in.
CREATE TABLE console_sessions (
    token_hash    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account       TEXT COLLATE "C" NOT NULL,
    user_name     TEXT COLLATE "C",
    access_key_id TEXT COLLATE "C" NOT NULL,
    csrf          TEXT COLLATE "C" NOT NULL,
    -- What the session was signed in with, checked on every request: for a password, the
    -- user's id and a digest of the password's hash (a new password or a new user of the
    -- same name ends it); empty for an access key, whose own state is checked.
    credential    TEXT COLLATE "C" NOT NULL,
    created_ms    BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_last_seen ON console_sessions (last_seen_ms);
