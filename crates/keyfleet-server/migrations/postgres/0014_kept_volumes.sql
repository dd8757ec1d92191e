-- A root volume's life beyond its instance: 'delete-on-termination' (EC2's default), 'keep'
-- (DeleteOnTermination=false: it stays, available, after the instance is terminated),
-- 'deleting' (DeleteVolume asked; the replica that holds the volume removes it) and 'deleted'.
ALTER TABLE instances ADD COLUMN volume_life TEXT COLLATE "C" NOT NULL DEFAULT 'delete-on-termination';
CREATE INDEX instances_volumes_after_termination ON instances (volume_life)
    WHERE state = 'terminated' AND volume_life IN ('keep', 'deleting');
