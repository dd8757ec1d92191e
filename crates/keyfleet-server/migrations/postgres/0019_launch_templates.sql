-- EC2 launch templates: a name unique in its scope, the version that launches by default,
-- and the numbered versions, each an immutable JSON document of LaunchTemplateData.
CREATE TABLE launch_templates (
    id              TEXT NOT NULL PRIMARY KEY,
    account         TEXT NOT NULL,
    region          TEXT NOT NULL,
    name            TEXT NOT NULL,
    default_version BIGINT NOT NULL,
    latest_version  BIGINT NOT NULL,
    -- The number the next version gets: numbers are never given twice, even after the
    -- latest version is deleted.
    next_version    BIGINT NOT NULL,
    created_ms      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    -- CreateLaunchTemplate's ClientToken: a retry answers the template it made.
    client_token    TEXT
);
CREATE UNIQUE INDEX launch_templates_by_name ON launch_templates (account, region, name);

CREATE TABLE launch_template_versions (
    template_id TEXT NOT NULL,
    version     BIGINT NOT NULL,
    description TEXT,
    data        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    PRIMARY KEY (template_id, version)
);
