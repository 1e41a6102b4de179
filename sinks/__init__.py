"""ClickHouse: versioned DDL, the batching sink from Kafka, and the report queries."""
