-- Client lookup, the elements of the WITH clause of client_summary.sql and client_card.sql (they
-- say `-- include: client_lookup`). It never filters events_canonical, whose computed client_id no
-- index can serve. Ends with a comma: the including query adds more WITH elements (its event-time
-- touches, fragments/event_time_touches.sql).
--
-- * matched: the (account, client) of the events naming X ({client}): one index-friendly lookup
--   per identifier (primary key for client_id, skip indexes of 005 for cid / email / phone: no
--   lookup is skipped by X's shape, since pseudonymised columns hold digests); an
--   event carrying a split identifier (split_event_map, 017: split_events as of its last refresh)
--   counts for its split client instead of the client it was stitched to, as in events_canonical.
-- * lookup: one scalar, (stitched, link_map, canonical_ids):
--   links = the client_alias_map rows that can matter (one pass over the account's rows: windows
--   find the canonical groups the matches fall in, and the rows naming X or a match), link_map =
--   their (account NUL client) -> canonical id; canonical_pairs = each match with its canonical
--   id; canonical_ids = X and those ids; stitched = the (account, stitched id) pairs whose events
--   belong to those canonical ids: the canonical pairs, the links merged into them, and the
--   stitched ids of split events whose split client's canonical id is one of them.
-- * client_events: their events, read from events by primary key (PREWHERE on the key columns),
--   a redelivered row kept once (LIMIT 1 BY the sorting key: it is byte-identical, so this is what
--   FINAL keeps, without FINAL's merge of every part), with the canonical id as client_id,
--   computed exactly as events_canonical does.
--
-- Why this shape: the analyser re-resolves a WITH alias at every reference, with the subqueries
-- it stands for, so the steps inside `lookup` pass their values on as columns of nested FROMs,
-- and later elements refer to `lookup` alone (issue 10: the card at 10 M events).
    (
        SELECT groupUniqArray((m.account_id, if(s.split_client_id = '', m.client_id,
                                                 s.split_client_id)))
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
        ) AS m
        LEFT JOIN (
            SELECT account_id, event_id, split_client_id FROM {db}.split_event_map FINAL
            WHERE {account:String} = '' OR account_id = {account:String}
        ) AS s ON s.account_id = m.account_id AND s.event_id = m.event_id
    ) AS matched,
    (
        SELECT (stitched, link_map, canonical_ids)
        FROM (
            SELECT
                link_map,
                canonical_ids,
                arrayDistinct(arrayConcat(
                    canonical_pairs,
                    arrayMap(l -> (l.1, l.2), arrayFilter(l -> has(canonical_ids, l.3), links)),
                    arrayMap(x -> (x.1, x.2), arrayFilter(x -> has(canonical_ids,
                        if(link_map[concat(x.1, '\0', x.3)] = '', x.3,
                           link_map[concat(x.1, '\0', x.3)])), splits)))) AS stitched
            FROM (
                SELECT
                    links,
                    link_map,
                    arrayMap(p -> (p.1, if(link_map[concat(p.1, '\0', p.2)] = '', p.2,
                                           link_map[concat(p.1, '\0', p.2)])), m) AS canonical_pairs,
                    arrayDistinct(arrayPushFront(arrayMap(p -> p.2, canonical_pairs),
                                                 {client:String})) AS canonical_ids,
                    (
                        SELECT groupArray((account_id, split_stitched_id, split_client_id))
                        FROM {db}.split_event_map FINAL
                        WHERE {account:String} = '' OR account_id = {account:String}
                    ) AS splits
                FROM (
                    SELECT
                        groupArray((account_id, client_id, canonical_id)) AS links,
                        mapFromArrays(groupArray(concat(account_id, '\0', client_id)),
                                      groupArray(canonical_id)) AS link_map
                    FROM (
                        SELECT
                            account_id,
                            client_id,
                            canonical_id,
                            q.m AS m,
                            arrayPushBack(arrayMap(p -> p.2, m), {client:String}) AS named,
                            has(m, (account_id, client_id)) AS hit,
                            max(hit) OVER (PARTITION BY canonical_id) AS hit_group,
                            groupUniqArrayIf(canonical_id, hit) OVER () AS hit_canonical
                        FROM {db}.client_alias_map AS a FINAL
                        CROSS JOIN (SELECT matched AS m) AS q
                        WHERE {account:String} = '' OR a.account_id = {account:String}
                    )
                    WHERE hit_group OR has(hit_canonical, client_id)
                       OR has(named, canonical_id) OR has(named, client_id)
                ) AS l
                CROSS JOIN (SELECT matched AS m) AS q
            )
        )
    ) AS lookup,
    lookup.3 AS canonical_ids,
    client_events AS (
        SELECT * EXCEPT (own)
        FROM (
            SELECT
                e.* EXCEPT (client_id),
                e.client_id AS stitched_client_id,
                if(s.split_client_id = '', e.client_id, s.split_client_id) AS own,
                if(lookup.2[concat(e.account_id, '\0', own)] = '', own,
                   lookup.2[concat(e.account_id, '\0', own)]) AS client_id
            FROM {db}.events AS e
            LEFT JOIN (
                SELECT account_id, event_id, split_client_id FROM {db}.split_event_map FINAL
                WHERE {account:String} = '' OR account_id = {account:String}
            ) AS s ON s.account_id = e.account_id AND s.event_id = e.event_id
            PREWHERE has(lookup.1, (e.account_id, e.client_id))
                 AND ({account:String} = '' OR e.account_id = {account:String})
            LIMIT 1 BY e.account_id, e.client_id, e.occurred_at, e.event_id
        )
    ),
