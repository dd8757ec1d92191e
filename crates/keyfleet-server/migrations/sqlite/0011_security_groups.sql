-- Security groups of the default VPC, per (account, region). The group named "default" is
-- made on first use, under an id derived from the scope, so replicas agree on it.
CREATE TABLE security_groups (
    account     TEXT NOT NULL,
    region      TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (account, region, id)
);
-- Names are unique ignoring case, as EC2's are.
CREATE UNIQUE INDEX security_groups_by_name ON security_groups (account, region, lower(name));

-- Their rules, one row per (protocol, ports, one source or destination), as EC2 numbers
-- them (sgr-…). A rule names a CIDR block or another group, never both.
CREATE TABLE security_group_rules (
    account          TEXT NOT NULL,
    region           TEXT NOT NULL,
    id               TEXT NOT NULL,
    group_id         TEXT NOT NULL,
    egress           INTEGER NOT NULL,
    protocol         TEXT NOT NULL,
    from_port        INTEGER NOT NULL,
    to_port          INTEGER NOT NULL,
    cidr             TEXT,
    referenced_group TEXT,
    description      TEXT NOT NULL,
    PRIMARY KEY (account, region, id)
);
CREATE INDEX security_group_rules_by_group ON security_group_rules (account, region, group_id);

-- An instance's groups, space-separated ids; empty for instances launched before groups
-- existed, which are in their scope's default group.
ALTER TABLE instances ADD COLUMN security_groups TEXT NOT NULL DEFAULT '';
