-- Automation executions: their steps and outputs as JSON, rewritten after every step so
-- that progress is visible while a runbook runs and an execution survives a restart.
CREATE TABLE automation_executions (
    id          TEXT COLLATE "C"    NOT NULL PRIMARY KEY,   -- UUID
    account     TEXT COLLATE "C"    NOT NULL,
    region      TEXT COLLATE "C"    NOT NULL,
    document    TEXT COLLATE "C"    NOT NULL,
    status      TEXT COLLATE "C"    NOT NULL,               -- Pending | InProgress | Success | Failed | Cancelling | Cancelled
    parameters  TEXT COLLATE "C"    NOT NULL,               -- JSON map name -> [values]
    steps       TEXT COLLATE "C"    NOT NULL,               -- JSON array of StepExecution
    outputs     TEXT COLLATE "C"    NOT NULL,               -- JSON map name -> [values]
    failure     TEXT COLLATE "C",
    start_ms    BIGINT NOT NULL,
    end_ms      BIGINT,
    executed_by TEXT COLLATE "C"    NOT NULL
);
CREATE INDEX automation_by_scope ON automation_executions (account, region, start_ms);
