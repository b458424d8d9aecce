-- Privacy: erasure requests and the stores' reports (the request's status), the erased-ids
-- list that outlives the raw topics (subjects: SHA-256 of site and id, never the id), and the
-- audit trail of admin actions.
-- up
CREATE TABLE IF NOT EXISTS erasure_requests
(
    request_id String,
    site_id LowCardinality(String),
    subject String,
    requested_by String,
    requested_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY request_id;

CREATE TABLE IF NOT EXISTS erasure_reports
(
    request_id String,
    site_id LowCardinality(String),
    component LowCardinality(String),
    part String,
    removed Map(String, UInt64),
    subjects Array(String),
    delivery_ids Array(String),
    at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (request_id, component, part, at);

CREATE TABLE IF NOT EXISTS erased_subjects
(
    site_id LowCardinality(String),
    subject String,
    request_id String,
    at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (site_id, subject);

CREATE TABLE IF NOT EXISTS audit_log
(
    at DateTime64(3, 'UTC'),
    actor LowCardinality(String),
    action LowCardinality(String),
    site_id LowCardinality(String),
    target String,
    detail String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, action);
-- down
DROP TABLE IF EXISTS audit_log;
DROP TABLE IF EXISTS erased_subjects;
DROP TABLE IF EXISTS erasure_reports;
DROP TABLE IF EXISTS erasure_requests;
