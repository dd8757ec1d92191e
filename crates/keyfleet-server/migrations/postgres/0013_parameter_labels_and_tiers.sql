-- Labels on parameter versions: a label names one version of one parameter, and moves when
-- it is put on another.
CREATE TABLE parameter_labels (
    account TEXT COLLATE "C" NOT NULL,
    region  TEXT COLLATE "C" NOT NULL,
    name    TEXT COLLATE "C" NOT NULL,
    label   TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (account, region, name, label)
);

-- Each version's tier (Standard or Advanced), the pattern its value was checked against, its
-- policies (a JSON array, as given) and when its Expiration policy deletes the parameter.
ALTER TABLE parameter_versions ADD COLUMN tier TEXT COLLATE "C" NOT NULL DEFAULT 'Standard';
ALTER TABLE parameter_versions ADD COLUMN allowed_pattern TEXT COLLATE "C";
ALTER TABLE parameter_versions ADD COLUMN policies TEXT COLLATE "C";
ALTER TABLE parameter_versions ADD COLUMN expires_ms BIGINT;
CREATE INDEX parameter_versions_expiring ON parameter_versions (expires_ms) WHERE expires_ms IS NOT NULL;
