-- Vendor attributes of an organization that the core stores and echoes but does not
-- interpret (CrateDB plan_type, contact email, notification setting, ...), one JSON object.
ALTER TABLE organizations ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
