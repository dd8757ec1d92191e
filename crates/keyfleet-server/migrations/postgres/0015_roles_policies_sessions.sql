-- IAM roles with their trust policies and inline policies; customer managed policies with
-- their versions; which users and roles have which managed policies attached (AWS managed
-- ones are built in and named by ARN only); and STS's temporary credentials. Names compare
-- ignoring case, as IAM's do. A session's secret is sealed under the master key like an
-- access key's, and only a digest of its token is kept.
CREATE TABLE iam_roles (
    role_id             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account             TEXT COLLATE "C" NOT NULL,
    name                TEXT NOT NULL,
    path                TEXT COLLATE "C" NOT NULL,
    trust_policy        TEXT NOT NULL,
    description         TEXT NOT NULL,
    max_session_seconds BIGINT NOT NULL,
    created_ms          BIGINT NOT NULL
);
CREATE UNIQUE INDEX iam_roles_by_name ON iam_roles (account, lower(name));

CREATE TABLE iam_role_policies (
    account     TEXT COLLATE "C" NOT NULL,
    role_name   TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (account, role_name, policy_name)
);

CREATE TABLE iam_policies (
    policy_id       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account         TEXT COLLATE "C" NOT NULL,
    arn             TEXT COLLATE "C" NOT NULL,
    name            TEXT NOT NULL,
    path            TEXT COLLATE "C" NOT NULL,
    description     TEXT NOT NULL,
    default_version BIGINT NOT NULL,
    next_version    BIGINT NOT NULL,
    created_ms      BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL
);
CREATE UNIQUE INDEX iam_policies_by_name ON iam_policies (account, lower(name));
CREATE UNIQUE INDEX iam_policies_by_arn ON iam_policies (arn);

CREATE TABLE iam_policy_versions (
    policy_id  TEXT COLLATE "C" NOT NULL,
    version    BIGINT NOT NULL,
    document   TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (policy_id, version)
);

-- principal_kind: 'user' | 'role'; principal_name as the user or role row spells it.
CREATE TABLE iam_attachments (
    account        TEXT COLLATE "C" NOT NULL,
    principal_kind TEXT COLLATE "C" NOT NULL,
    principal_name TEXT NOT NULL,
    policy_arn     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account, principal_kind, principal_name, policy_arn)
);
CREATE INDEX iam_attachments_by_policy ON iam_attachments (policy_arn);

-- issuer_kind: 'role' (AssumeRole: issuer_name is the role, issuer_id its AROA id),
-- 'user' (GetSessionToken of a user) or 'root' (GetSessionToken of the root key).
CREATE TABLE sts_sessions (
    access_key_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account       TEXT COLLATE "C" NOT NULL,
    sealed_secret TEXT NOT NULL,
    token_digest  TEXT COLLATE "C" NOT NULL,
    issuer_kind   TEXT COLLATE "C" NOT NULL,
    issuer_name   TEXT NOT NULL,
    issuer_id     TEXT COLLATE "C" NOT NULL,
    session_name  TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL
);
CREATE INDEX sts_sessions_by_expiry ON sts_sessions (expires_ms);
