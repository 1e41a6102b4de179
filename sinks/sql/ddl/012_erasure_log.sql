-- Erasure log (issue 12): one row per erase request. No personal data: the identifiers asked
-- for and the clients found are keyed hashes (HMAC-SHA256 under TOUCHLINE_PRIVACY_KEY, the same
-- hashes as the suppression topic); `counts` says how many rows or keys went from where
-- ('clickhouse.events', 'redis.keys', ...). A repeated request finds nothing left and logs zeros.
CREATE TABLE IF NOT EXISTS {db}.erasure_log
(
    requested_at      DateTime64(3, 'UTC'),
    finished_at       DateTime64(3, 'UTC'),
    request_id        UUID,
    account_id        LowCardinality(String),
    requested_by      LowCardinality(String),
    identifier_hashes Array(String),
    client_hashes     Array(String),
    counts            Map(String, UInt64),
    verified          Bool
)
ENGINE = MergeTree
ORDER BY (account_id, requested_at);
