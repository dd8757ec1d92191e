-- CloudFormation stacks. A stack is one JSON document (template, parameters, resources,
-- outputs) beside the columns that lookups and claims use. One live stack per name: a deleted
-- one keeps its row (ListStacks shows it) and frees the name.
CREATE TABLE stacks (
    id               TEXT PRIMARY KEY,
    account          TEXT NOT NULL,
    region           TEXT NOT NULL,
    name             TEXT NOT NULL,
    status           TEXT NOT NULL,
    document         TEXT NOT NULL,
    created_ms       BIGINT NOT NULL,
    deleted_ms       BIGINT,
    owner            TEXT NOT NULL DEFAULT '',
    lease_ms         BIGINT NOT NULL DEFAULT 0,
    -- Who called DeleteStack while an operation ran; the delete starts, as them, when it stops.
    delete_requested_by TEXT,
    delete_requested_by_id TEXT
);
CREATE UNIQUE INDEX stacks_live_name ON stacks (account, region, name) WHERE deleted_ms IS NULL;
CREATE TABLE stack_events (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stack_id TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX stack_events_by_stack ON stack_events (stack_id, seq);
