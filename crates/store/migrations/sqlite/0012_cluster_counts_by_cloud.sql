-- Project and cloud reads give their live cluster count from `cluster_counts` (0009), so the
-- cost of reading a project or a cloud does not grow with its clusters. A cloud's count sums
-- its rows across projects: this index finds them without scanning the organization's rows.
CREATE INDEX cluster_counts_by_cloud ON cluster_counts (org_id, cloud_id, project_id);
