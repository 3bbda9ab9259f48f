-- dbcloud core schema (PostgreSQL). Ids are TEXT (hyphenated UUID v7, so text order is time
-- order), times are BIGINT milliseconds since the epoch, nested data is JSON text.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    is_default  BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (org_id, name)
);
CREATE INDEX projects_org_id ON projects (org_id, id);

CREATE TABLE clouds (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    name        TEXT NOT NULL,
    provider    TEXT NOT NULL,
    region      TEXT NOT NULL,
    vpc_cidr    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (org_id, name)
);
CREATE INDEX clouds_org_id ON clouds (org_id, id);
CREATE INDEX clouds_org_provider_region ON clouds (org_id, provider, region);

CREATE TABLE clusters (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id),
    project_id     TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    cloud_id       TEXT NOT NULL REFERENCES clouds(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    plan           TEXT NOT NULL,
    version        TEXT NOT NULL,
    node_count     BIGINT NOT NULL,
    node_size      TEXT NOT NULL,
    spend_limit    BIGINT,
    state          TEXT NOT NULL,
    failure_reason TEXT,
    nodes          TEXT NOT NULL,
    endpoints      TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX clusters_live_name ON clusters (org_id, name) WHERE state <> 'DELETED';
CREATE INDEX clusters_org_id ON clusters (org_id, id);
CREATE INDEX clusters_project ON clusters (project_id, id);
CREATE INDEX clusters_cloud ON clusters (cloud_id, id);

CREATE TABLE buckets (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL,
    cluster_id      TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    memory_quota_mb BIGINT NOT NULL,
    replicas        BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (cluster_id, name)
);
CREATE INDEX buckets_cluster ON buckets (cluster_id, id);

CREATE TABLE db_users (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL,
    cluster_id          TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    access              TEXT NOT NULL,
    scope               TEXT,
    password_hash       TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL,
    UNIQUE (cluster_id, name)
);
CREATE INDEX db_users_cluster ON db_users (cluster_id, id);

CREATE TABLE allowlist_entries (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    cluster_id  TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    cidr        TEXT NOT NULL,
    comment     TEXT NOT NULL,
    expires_at  BIGINT,
    created_at  BIGINT NOT NULL,
    UNIQUE (cluster_id, cidr)
);
CREATE INDEX allowlist_cluster ON allowlist_entries (cluster_id, id);

CREATE TABLE operations (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    cluster_id  TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    step        TEXT NOT NULL,
    progress    BIGINT NOT NULL,
    error       TEXT,
    params      TEXT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    attempts    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    finished_at BIGINT
);
-- One running operation per cluster, enforced by the database for every replica.
CREATE UNIQUE INDEX operations_one_active ON operations (cluster_id) WHERE status IN ('SENT', 'IN_PROGRESS');
CREATE INDEX operations_active_lease ON operations (lease_until) WHERE status IN ('SENT', 'IN_PROGRESS');
CREATE INDEX operations_cluster ON operations (cluster_id, id);

CREATE TABLE api_keys (
    access_key    TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations(id),
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    grants        TEXT NOT NULL,
    allowed_cidrs TEXT NOT NULL,
    expires_at    BIGINT,
    state         TEXT NOT NULL,
    created_by    TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    last_used_ip  TEXT
);
CREATE INDEX api_keys_org ON api_keys (org_id, access_key);

CREATE TABLE idempotency_keys (
    org_id       TEXT NOT NULL,
    principal    TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (org_id, principal, idem_key)
);

CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    org_id      TEXT,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    key_id      TEXT,
    source_ip   TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    details     TEXT NOT NULL
);
CREATE INDEX audit_org_id ON audit_events (org_id, id);
