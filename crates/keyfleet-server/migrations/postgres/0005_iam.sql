-- Identities: users, their access keys and inline policies. IAM is global: rows are
-- scoped by account only. User names are unique ignoring case, as IAM's are; keys and
-- policies name their user as the user row spells it. An access key's secret is sealed
-- under the master key, which is not in the database, so a dump cannot sign requests.
-- An account's root key has an empty user_name.
CREATE TABLE iam_users (
    user_id    TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    account    TEXT COLLATE "C"    NOT NULL,
    name       TEXT COLLATE "C"    NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX iam_users_by_name ON iam_users (account, lower(name));

CREATE TABLE iam_access_keys (
    id            TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    account       TEXT COLLATE "C"    NOT NULL,
    user_name     TEXT COLLATE "C"    NOT NULL,
    sealed_secret TEXT COLLATE "C"    NOT NULL,
    status        TEXT COLLATE "C"    NOT NULL,   -- Active | Inactive
    created_ms    BIGINT NOT NULL
);
CREATE INDEX iam_access_keys_by_user ON iam_access_keys (account, lower(user_name));

CREATE TABLE iam_user_policies (
    account     TEXT COLLATE "C" NOT NULL,
    user_name   TEXT COLLATE "C" NOT NULL,
    policy_name TEXT COLLATE "C" NOT NULL,
    document    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account, user_name, policy_name)
);
