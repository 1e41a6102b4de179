-- The table keeps its rows forever (its TTL setting is 0).
ALTER TABLE {db}.{table} REMOVE TTL
