-- IAM instance profiles: a name (unique ignoring case, as IAM's names are) and at most one
-- role, held by name.
CREATE TABLE iam_instance_profiles (
    profile_id TEXT NOT NULL PRIMARY KEY,
    account    TEXT NOT NULL,
    name       TEXT NOT NULL,
    path       TEXT NOT NULL,
    role_name  TEXT,
    created_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX iam_instance_profiles_by_name ON iam_instance_profiles (account, lower(name));
CREATE INDEX iam_instance_profiles_by_role ON iam_instance_profiles (account, lower(role_name));
