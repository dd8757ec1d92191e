-- Labels on parameter versions: a label names one version of one parameter, and moves when
-- it is put on another.
CREATE TABLE parameter_labels (
    account TEXT    NOT NULL,
    region  TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    label   TEXT    NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (account, region, name, label)
);

-- Each version's tier (Standard or Advanced), the pattern its value was checked against, its
-- policies (a JSON array, as given) and when its Expiration policy deletes the parameter.
ALTER TABLE parameter_versions ADD COLUMN tier TEXT NOT NULL DEFAULT 'Standard';
ALTER TABLE parameter_versions ADD COLUMN allowed_pattern TEXT;
ALTER TABLE parameter_versions ADD COLUMN policies TEXT;
ALTER TABLE parameter_versions ADD COLUMN expires_ms INTEGER;
CREATE INDEX parameter_versions_expiring ON parameter_versions (expires_ms) WHERE expires_ms IS NOT NULL;
