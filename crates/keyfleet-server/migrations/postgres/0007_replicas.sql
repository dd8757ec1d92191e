-- Several replicas: each live instance is owned by one replica (its SSH server and volume
-- live there) under a lease the owner renews. Another replica takes an instance over only
-- when the lease has run out and the volume is reachable from it. `reboots` counts reboot
-- requests, so that one made through another replica reaches the owner.
ALTER TABLE instances ADD COLUMN owner TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE instances ADD COLUMN lease_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN reboots BIGINT NOT NULL DEFAULT 0;

-- An execution runs on the replica that owns its instance; at most one unfinished
-- execution per instance, across every replica.
ALTER TABLE automation_executions ADD COLUMN owner TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE automation_executions ADD COLUMN target TEXT COLLATE "C";
CREATE UNIQUE INDEX automation_one_per_instance ON automation_executions (account, region, target) WHERE end_ms IS NULL;
