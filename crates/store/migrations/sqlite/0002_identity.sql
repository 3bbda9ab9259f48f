-- Identity and access: users, service accounts, role grants, key ownership and rotation,
-- encrypted HMAC secrets, rate-limit settings and counters, signature replay guard.

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    email       TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (org_id, email)
);
CREATE INDEX users_org ON users (org_id, id);

CREATE TABLE service_accounts (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (org_id, name)
);
CREATE INDEX service_accounts_org ON service_accounts (org_id, id);

-- principal_kind: user | service_account | api_key; scope_kind: organization | project | cluster.
CREATE TABLE role_grants (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id),
    principal_kind TEXT NOT NULL,
    principal_id   TEXT NOT NULL,
    role           TEXT NOT NULL,
    scope_kind     TEXT NOT NULL,
    scope_id       TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    UNIQUE (principal_kind, principal_id, role, scope_kind, scope_id)
);
CREATE INDEX role_grants_principal ON role_grants (principal_kind, principal_id);
CREATE INDEX role_grants_org ON role_grants (org_id, id);

-- owner_kind: key (roles of its own) | service_account | user (inherits their grants).
ALTER TABLE api_keys ADD COLUMN owner_kind TEXT NOT NULL DEFAULT 'key';
ALTER TABLE api_keys ADD COLUMN owner_id TEXT;
ALTER TABLE api_keys ADD COLUMN secret_enc TEXT;
ALTER TABLE api_keys ADD COLUMN prev_secret_hash TEXT;
ALTER TABLE api_keys ADD COLUMN prev_secret_enc TEXT;
ALTER TABLE api_keys ADD COLUMN prev_valid_until INTEGER;
ALTER TABLE api_keys ADD COLUMN rate_limit INTEGER;
ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;
CREATE INDEX api_keys_owner ON api_keys (owner_kind, owner_id);

ALTER TABLE organizations ADD COLUMN rate_limit INTEGER;

-- Signatures of non-idempotent HMAC requests already accepted (replay guard).
CREATE TABLE signature_uses (
    access_key  TEXT NOT NULL,
    signature   TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (access_key, signature)
);
CREATE INDEX signature_uses_expiry ON signature_uses (expires_at);

-- Fixed-window request counters shared by replicas.
CREATE TABLE rate_counters (
    bucket       TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX audit_org_action ON audit_events (org_id, action, id);
