-- Client lookup, the elements of the WITH clause of client_summary.sql and client_card.sql (they
-- say `-- include: client_lookup`). It never filters events_canonical, whose computed client_id no
-- index can serve: matched = the (account, stitched id) of the events naming X, one
-- index-friendly lookup per identifier (primary key for client_id, skip indexes of 005 for
-- cid / email / phone); canonical_ids = X plus their canonical ids; links = the client_aliases
-- rows that can matter (one pass over client_alias_map, 017: windows find the canonical groups
-- the matches fall in); stitched = the (account, stitched id) pairs whose canonical id is one
-- of those; client_events = their events, read from events FINAL by primary key with PREWHERE
-- on the key columns (a whole duplicate group shares them, so filtering before FINAL keeps the
-- same rows), with the canonical id as client_id, computed exactly as events_canonical does. Each
-- WITH (SELECT ...) is a scalar evaluated once per query. Ends with a comma: the including query
-- adds more WITH elements (its event-time touches, fragments/event_time_touches.sql).
-- Identity splits (013): splits = the events carrying a split identifier (split_event_map, 017:
-- split_events as of its last refresh; account, event id, the client it belongs to, the client
-- it was stitched to); an event's client is its split client if it has one, else its stitched id,
-- before the merges (`links`) are applied, as in events_canonical; stitched also takes the
-- stitched ids of split events that belong here.
    (
        SELECT groupArray((account_id, event_id, split_client_id, split_stitched_id))
        FROM {db}.split_event_map FINAL
        WHERE {account:String} = '' OR account_id = {account:String}
    ) AS splits,
    (
        SELECT groupUniqArray((account_id, if(moved = '', client_id, moved)))
        FROM (
            SELECT account_id, client_id, event_id FROM {db}.events
            WHERE client_id = {client:String}
              AND ({account:String} = '' OR account_id = {account:String})
            UNION ALL
            SELECT account_id, client_id, event_id FROM {db}.events
            WHERE cid = {client:String}
              AND ({account:String} = '' OR account_id = {account:String})
            UNION ALL
            SELECT account_id, client_id, event_id FROM {db}.events
            WHERE email = {client:String}
              AND ({account:String} = '' OR account_id = {account:String})
            UNION ALL
            SELECT account_id, client_id, event_id FROM {db}.events
            WHERE phone = {client:String}
              AND ({account:String} = '' OR account_id = {account:String})
        )
        ARRAY JOIN [arrayFirst(x -> (x.1, x.2) = (account_id, event_id), splits).3] AS moved
    ) AS matched,
    arrayPushBack(arrayMap(p -> p.2, matched), {client:String}) AS named,
    (
        SELECT groupArray((account_id, client_id, canonical_id))
        FROM (
            SELECT
                account_id,
                client_id,
                canonical_id,
                has(matched, (account_id, client_id)) AS hit,
                max(hit) OVER (PARTITION BY canonical_id) AS hit_group,
                groupUniqArrayIf(canonical_id, hit) OVER () AS hit_canonical
            FROM {db}.client_alias_map FINAL
            WHERE {account:String} = '' OR account_id = {account:String}
        )
        WHERE hit_group OR has(hit_canonical, client_id)
           OR has(named, canonical_id) OR has(named, client_id)
    ) AS links,
    arrayDistinct(arrayPushFront(
        arrayMap(p -> if(arrayExists(l -> (l.1, l.2) = p, links),
                         arrayFirst(l -> (l.1, l.2) = p, links).3, p.2), matched),
        {client:String})) AS canonical_ids,
    (
        SELECT arrayConcat(
            groupUniqArray((account_id, client_id)),
            arrayMap(l -> (l.1, l.2), arrayFilter(l -> has(canonical_ids, l.3), links)),
            arrayMap(x -> (x.1, x.4), arrayFilter(x -> has(canonical_ids,
                if(arrayExists(l -> (l.1, l.2) = (x.1, x.3), links),
                   arrayFirst(l -> (l.1, l.2) = (x.1, x.3), links).3, x.3)), splits)))
        FROM {db}.events
        WHERE has(canonical_ids, client_id)
          AND ({account:String} = '' OR account_id = {account:String})
    ) AS stitched,
    client_events AS (
        SELECT
            e.* EXCEPT (client_id),
            e.client_id AS stitched_client_id,
            if(arrayExists(l -> (l.1, l.2) = (e.account_id, own), links),
               arrayFirst(l -> (l.1, l.2) = (e.account_id, own), links).3, own) AS client_id
        FROM {db}.events AS e FINAL
        ARRAY JOIN [if(arrayFirst(x -> (x.1, x.2) = (e.account_id, e.event_id), splits).3 = '',
                       e.client_id,
                       arrayFirst(x -> (x.1, x.2) = (e.account_id, e.event_id), splits).3)] AS own
        PREWHERE has(stitched, (e.account_id, e.client_id))
             AND ({account:String} = '' OR e.account_id = {account:String})
    ),
