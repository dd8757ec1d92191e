-- Identities: users, their access keys and inline policies. IAM is global: rows are
-- scoped by account only. User names are unique ignoring case, as IAM's are; keys and
-- policies name their user as the user row spells it. An access key's secret is sealed
-- under the master key, which is not in the database, so a dump cannot sign requests.
-- An account's root key has an empty user_name.
CREATE TABLE iam_users (
    user_id    TEXT    NOT NULL PRIMARY KEY,
    account    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX iam_users_by_name ON iam_users (account, lower(name));

CREATE TABLE iam_access_keys (
    id            TEXT    NOT NULL PRIMARY KEY,
    account       TEXT    NOT NULL,
    user_name     TEXT    NOT NULL,
    sealed_secret TEXT    NOT NULL,
    status        TEXT    NOT NULL,   -- Active | Inactive
    created_ms    INTEGER NOT NULL
);
CREATE INDEX iam_access_keys_by_user ON iam_access_keys (account, lower(user_name));

CREATE TABLE iam_user_policies (
    account     TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (account, user_name, policy_name)
);
