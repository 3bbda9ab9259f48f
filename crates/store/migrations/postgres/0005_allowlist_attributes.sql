-- Vendor attributes of an allow-list entry (e.g. CockroachDB's `ui` / `sql` flags), one
-- JSON object the core stores and echoes.
ALTER TABLE allowlist_entries ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
