-- The local PostgreSQL provider. Ports of instances: one (cluster, node) per port of a
-- host and one port per (cluster, node), kept until released (delete, scale down).
CREATE TABLE local_ports (
    host       TEXT NOT NULL,
    port       BIGINT NOT NULL,
    cluster_id TEXT NOT NULL,
    node       BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (host, port),
    UNIQUE (cluster_id, node)
);

-- The CA of a local cluster: the certificate, and its private key sealed under the master
-- key (the cluster id is the sealing context). The first one saved wins.
CREATE TABLE local_cluster_cas (
    cluster_id TEXT PRIMARY KEY,
    cert_pem   TEXT NOT NULL,
    sealed_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Which replica supervises the processes of a local cluster (renewed on each pass,
-- taken over when it expires).
CREATE TABLE local_supervision (
    cluster_id  TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);
