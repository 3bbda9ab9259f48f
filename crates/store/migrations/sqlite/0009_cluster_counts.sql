-- Live (not DELETED) clusters per organization, project and cloud, kept exact by triggers,
-- so that a paged list can give its total without counting every cluster (Couchbase's
-- `totalItems`): the cost of a page stays the same with 100 or 100,000 clusters.
CREATE TABLE cluster_counts (
    org_id     TEXT NOT NULL,
    project_id TEXT NOT NULL,
    cloud_id   TEXT NOT NULL,
    live       INTEGER NOT NULL,
    PRIMARY KEY (org_id, project_id, cloud_id)
);
INSERT INTO cluster_counts (org_id, project_id, cloud_id, live)
    SELECT org_id, project_id, cloud_id, count(*) FROM clusters WHERE state <> 'DELETED' GROUP BY org_id, project_id, cloud_id;

CREATE TRIGGER cluster_counts_insert AFTER INSERT ON clusters WHEN NEW.state <> 'DELETED' BEGIN
    INSERT INTO cluster_counts (org_id, project_id, cloud_id, live) VALUES (NEW.org_id, NEW.project_id, NEW.cloud_id, 1)
        ON CONFLICT (org_id, project_id, cloud_id) DO UPDATE SET live = live + 1;
END;
CREATE TRIGGER cluster_counts_delete AFTER DELETE ON clusters WHEN OLD.state <> 'DELETED' BEGIN
    UPDATE cluster_counts SET live = live - 1 WHERE org_id = OLD.org_id AND project_id = OLD.project_id AND cloud_id = OLD.cloud_id;
END;
CREATE TRIGGER cluster_counts_update AFTER UPDATE OF state, project_id, cloud_id ON clusters
    WHEN (OLD.state <> 'DELETED') <> (NEW.state <> 'DELETED') OR OLD.project_id <> NEW.project_id OR OLD.cloud_id <> NEW.cloud_id BEGIN
    UPDATE cluster_counts SET live = live - 1
        WHERE OLD.state <> 'DELETED' AND org_id = OLD.org_id AND project_id = OLD.project_id AND cloud_id = OLD.cloud_id;
    INSERT INTO cluster_counts (org_id, project_id, cloud_id, live) SELECT NEW.org_id, NEW.project_id, NEW.cloud_id, 1 WHERE NEW.state <> 'DELETED'
        ON CONFLICT (org_id, project_id, cloud_id) DO UPDATE SET live = live + 1;
END;
