-- Cluster lists ordered by name (the CockroachDB dialect's default order), keyset on (name, id).
CREATE INDEX clusters_org_name ON clusters (org_id, name, id);
