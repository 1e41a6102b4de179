-- Hourly series for the anomaly detector (sinks/anomalies.py): per account, metric and hour (UTC,
-- event time) the distinct events and distinct clients, from the hourly_metrics rollup (007).
-- `source` is kept for metric `events` (events per source) and '' for the other metrics (summed
-- over sources). Hours without events have no row: the detector reads them as 0 inside the span
-- of the account's data. {from}..{to} are inclusive UTC days; the caller widens {from} by the
-- baseline weeks. {location} ('' = all) narrows to one location.
SELECT
    account_id,
    metric,
    if(metric = 'events', source, '') AS series_source,
    hour,
    uniqExactMerge(events) AS n,
    uniqExactMerge(clients) AS clients
FROM {db}.hourly_metrics
WHERE ({account:String} = '' OR account_id = {account:String})
  AND ({location:String} = '' OR location_id = {location:String})
  AND toDate(hour) BETWEEN {from:Date} AND {to:Date}
GROUP BY account_id, metric, series_source, hour
ORDER BY account_id, metric, series_source, hour
