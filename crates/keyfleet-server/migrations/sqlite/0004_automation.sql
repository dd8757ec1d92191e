-- Automation executions: their steps and outputs as JSON, rewritten after every step so
-- that progress is visible while a runbook runs and an execution survives a restart.
CREATE TABLE automation_executions (
    id          TEXT    NOT NULL PRIMARY KEY,   -- UUID
    account     TEXT    NOT NULL,
    region      TEXT    NOT NULL,
    document    TEXT    NOT NULL,
    status      TEXT    NOT NULL,               -- Pending | InProgress | Success | Failed | Cancelling | Cancelled
    parameters  TEXT    NOT NULL,               -- JSON map name -> [values]
    steps       TEXT    NOT NULL,               -- JSON array of StepExecution
    outputs     TEXT    NOT NULL,               -- JSON map name -> [values]
    failure     TEXT,
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER,
    executed_by TEXT    NOT NULL
);
CREATE INDEX automation_by_scope ON automation_executions (account, region, start_ms);
