-- ModifyInstanceAttribute's settings (also RunInstances' DisableApiTermination and
-- InstanceInitiatedShutdownBehavior), and when the user last stopped or terminated the
-- instance: its StateTransitionReason, "User initiated (… GMT)".
ALTER TABLE instances ADD COLUMN disable_api_termination INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN shutdown_behavior TEXT COLLATE "C" NOT NULL DEFAULT 'stop';
ALTER TABLE instances ADD COLUMN user_transition_ms BIGINT;
