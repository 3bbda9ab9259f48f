-- Replicas reserve rate-limit budget with one conditional upsert; `granted` holds what the
-- latest reservation of the window was given, so the statement can return it.
ALTER TABLE rate_counters ADD COLUMN granted BIGINT NOT NULL DEFAULT 0;
-- Old windows are swept by start time.
CREATE INDEX rate_counters_window ON rate_counters (window_start);
