-- The currencies of the revenue in [from, to] of {account} (events with revenue_minor != 0 and a
-- currency): the reports print money with its currency (sinks/money.py), and say "mixed" instead
-- of adding up amounts of several currencies.
SELECT arraySort(groupUniqArray(assumeNotNull(currency))) AS currencies
FROM {db}.events_canonical_raw
WHERE revenue_minor != 0 AND currency IS NOT NULL
  AND ({account:String} = '' OR account_id = {account:String})
  AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
