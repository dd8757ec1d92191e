-- Parameter Store: every version of every parameter (the latest 100 are kept). A
-- SecureString's value is an envelope-encrypted blob; the master key is not in here.
CREATE TABLE parameter_versions (
    account     TEXT    NOT NULL,
    region      TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    type        TEXT    NOT NULL,        -- String | StringList | SecureString
    value       TEXT    NOT NULL,
    key_id      TEXT,
    description TEXT,
    data_type   TEXT    NOT NULL,
    modified_ms INTEGER NOT NULL,
    modified_by TEXT    NOT NULL,
    PRIMARY KEY (account, region, name, version)
);
