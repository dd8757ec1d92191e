-- Auto Scaling groups: one JSON document per group (its settings, members, refresh), a
-- revision that every save checks and bumps, and the replica that reconciles it, under a
-- lease. Scaling activities are rows of their own, newest kept.
CREATE TABLE auto_scaling_groups (
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    name       TEXT NOT NULL,
    revision   BIGINT NOT NULL,
    document   TEXT NOT NULL,
    owner      TEXT NOT NULL,
    lease_ms   BIGINT NOT NULL,
    PRIMARY KEY (account, region, name)
);

CREATE TABLE scaling_activities (
    id         TEXT NOT NULL PRIMARY KEY,
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    group_name TEXT NOT NULL,
    start_ms   BIGINT NOT NULL,
    -- Set once the activity has ended: an ended activity is never written back to running.
    end_ms     BIGINT,
    document   TEXT NOT NULL
);
CREATE INDEX scaling_activities_by_group ON scaling_activities (account, region, group_name, start_ms);
