-- Verification of the recompute: days (of the erased clients') whose daily_events aggregates
-- disagree with the events left (0 when no erased event is counted any more).
SELECT count() FROM (
    SELECT day, uniqExactMerge(events) AS n
    FROM {db}.daily_events
    WHERE account_id = {account:String} AND has({days:Array(Date)}, day)
    GROUP BY day
) AS d
FULL OUTER JOIN (
    SELECT toDate(occurred_at) AS day, uniqExact(event_id) AS n
    FROM {db}.events
    WHERE account_id = {account:String} AND has({days:Array(Date)}, toDate(occurred_at))
    GROUP BY day
) AS e ON d.day = e.day
WHERE d.n != e.n
