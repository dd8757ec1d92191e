-- The root volume's size in GiB, chosen at launch (RunInstances' BlockDeviceMapping). Volumes
-- made before sizes existed were the built-in image's 8 GiB.
ALTER TABLE instances ADD COLUMN volume_gib INTEGER NOT NULL DEFAULT 8;
-- RunInstances' idempotency token: a retry with the same token answers the first launch.
ALTER TABLE instances ADD COLUMN client_token TEXT;
