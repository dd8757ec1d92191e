-- Identities: users, their access keys and inline policies. IAM is global: rows are
-- scoped by account only. An access key's secret is sealed under the master key, which
-- is not in the database, so a dump of this table cannot sign requests.
CREATE TABLE iam_users (
    account    TEXT    NOT NULL,
    name       TEXT    NOT NULL COLLATE NOCASE,
    user_id    TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (account, name)
);

CREATE TABLE iam_access_keys (
    id            TEXT    NOT NULL PRIMARY KEY,
    account       TEXT    NOT NULL,
    user_name     TEXT    NOT NULL COLLATE NOCASE,
    sealed_secret TEXT    NOT NULL,
    status        TEXT    NOT NULL,   -- Active | Inactive
    created_ms    INTEGER NOT NULL
);
CREATE INDEX iam_access_keys_by_user ON iam_access_keys (account, user_name);

CREATE TABLE iam_user_policies (
    account     TEXT NOT NULL,
    user_name   TEXT NOT NULL COLLATE NOCASE,
    policy_name TEXT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (account, user_name, policy_name)
);
