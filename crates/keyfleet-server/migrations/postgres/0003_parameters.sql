-- Parameter Store: every version of every parameter (the latest 100 are kept). A
-- SecureString's value is an envelope-encrypted blob; the master key is not in here.
CREATE TABLE parameter_versions (
    account     TEXT COLLATE "C"    NOT NULL,
    region      TEXT COLLATE "C"    NOT NULL,
    name        TEXT COLLATE "C"    NOT NULL,
    version     BIGINT NOT NULL,
    type        TEXT COLLATE "C"    NOT NULL,        -- String | StringList | SecureString
    value       TEXT COLLATE "C"    NOT NULL,
    key_id      TEXT COLLATE "C",
    description TEXT COLLATE "C",
    data_type   TEXT COLLATE "C"    NOT NULL,
    modified_ms BIGINT NOT NULL,
    modified_by TEXT COLLATE "C"    NOT NULL,
    PRIMARY KEY (account, region, name, version)
);
