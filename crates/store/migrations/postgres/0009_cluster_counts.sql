-- Live (not DELETED) clusters per organization, project and cloud, kept exact by triggers,
-- so that a paged list can give its total without counting every cluster (Couchbase's
-- `totalItems`): the cost of a page stays the same with 100 or 100,000 clusters.
CREATE TABLE cluster_counts (
    org_id     TEXT NOT NULL,
    project_id TEXT NOT NULL,
    cloud_id   TEXT NOT NULL,
    live       BIGINT NOT NULL,
    PRIMARY KEY (org_id, project_id, cloud_id)
);
INSERT INTO cluster_counts (org_id, project_id, cloud_id, live)
    SELECT org_id, project_id, cloud_id, count(*) FROM clusters WHERE state <> 'DELETED' GROUP BY org_id, project_id, cloud_id;

CREATE FUNCTION cluster_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.state <> 'DELETED' THEN
        UPDATE cluster_counts SET live = live - 1 WHERE org_id = OLD.org_id AND project_id = OLD.project_id AND cloud_id = OLD.cloud_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.state <> 'DELETED' THEN
        INSERT INTO cluster_counts (org_id, project_id, cloud_id, live) VALUES (NEW.org_id, NEW.project_id, NEW.cloud_id, 1)
            ON CONFLICT (org_id, project_id, cloud_id) DO UPDATE SET live = cluster_counts.live + 1;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER cluster_counts_insert AFTER INSERT ON clusters FOR EACH ROW EXECUTE FUNCTION cluster_counts_track();
CREATE TRIGGER cluster_counts_delete AFTER DELETE ON clusters FOR EACH ROW EXECUTE FUNCTION cluster_counts_track();
CREATE TRIGGER cluster_counts_update AFTER UPDATE OF state, project_id, cloud_id ON clusters FOR EACH ROW
    WHEN ((OLD.state <> 'DELETED') IS DISTINCT FROM (NEW.state <> 'DELETED') OR OLD.project_id IS DISTINCT FROM NEW.project_id OR OLD.cloud_id IS DISTINCT FROM NEW.cloud_id)
    EXECUTE FUNCTION cluster_counts_track();
