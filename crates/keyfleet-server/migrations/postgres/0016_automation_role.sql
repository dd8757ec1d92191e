-- The role an execution runs as (AutomationAssumeRole), pinned when the start was admitted:
-- its ARN and the id it had then. An execution without one runs as its caller; a role made
-- again under the name has another id, and the remaining steps fail instead of using it.
ALTER TABLE automation_executions ADD COLUMN assume_role_arn TEXT;
ALTER TABLE automation_executions ADD COLUMN assume_role_id TEXT;
