-- The web console: people sign in with a password (argon2id PHC string; NULL: no console
-- sign-in), sessions live here so that every replica honours them (only the SHA-256 of the
-- cookie value is stored), and failed sign-ins are counted per address and per account in
-- fixed windows shared by the replicas.

ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN password_changed_at INTEGER;
-- Sign-in finds people by e-mail address (in whichever organization).
CREATE INDEX users_email ON users (email);

CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id),
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    source_ip    TEXT NOT NULL,
    user_agent   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- bucket: `ip:<address>` or `account:<e-mail>`; window_start in milliseconds.
CREATE TABLE login_failures (
    bucket       TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    failures     INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX login_failures_window ON login_failures (window_start);
