-- Keep a table's rows for {days} days after their event time (TOUCHLINE_CLICKHOUSE_TTL_DAYS);
-- expired rows are dropped by background merges.
ALTER TABLE {db}.{table} MODIFY TTL toDateTime({column}) + INTERVAL {days} DAY
