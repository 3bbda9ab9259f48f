-- Vendor attributes of a cluster that the core stores and echoes but does not interpret
-- (labels, CockroachDB regions and usage limits, CrateDB channel, ...), one JSON object.
ALTER TABLE clusters ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
