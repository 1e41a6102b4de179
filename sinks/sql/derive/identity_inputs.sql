-- What the identity maps (ddl/017) are computed from, in two numbers each: the merges, and the
-- splits (unmerges end aliases; claims, lookups and releases decide split events, with the events
-- that carry their identifiers). sinks/identity_maps.py skips a refresh when they did not move.
SELECT (SELECT (count(), sum(cityHash64(event_id))) FROM {db}.identity_merges),
       (SELECT (count(), sum(cityHash64(event_id))) FROM {db}.identity_splits)
