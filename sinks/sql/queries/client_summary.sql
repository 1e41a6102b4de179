-- Client card, header: one row per canonical client found by {client:String} (see client_card):
-- every identifier seen, the first touch, contacts, distinct touch channels, multichannel contacts
-- and revenue (minor units, per currency code in `currencies`).
--
-- The client lookup is sinks/sql/fragments/client_lookup.sql.
WITH
    -- include: client_lookup
SELECT
    client_id,
    arraySort(groupUniqArray(stitched_client_id)) AS client_ids,
    arraySort(groupUniqArrayIf(assumeNotNull(cid), cid IS NOT NULL)) AS cids,
    arraySort(groupUniqArrayIf(assumeNotNull(email), email IS NOT NULL)) AS emails,
    arraySort(groupUniqArrayIf(assumeNotNull(phone), phone IS NOT NULL)) AS phones,
    minIf(occurred_at, is_touch OR is_contact) AS first_touch_at,
    argMinIf(toString(channel), (occurred_at, event_id), is_touch OR is_contact)
        AS first_touch_channel,
    argMinIf(ifNull(utm_campaign, ''), (occurred_at, event_id), is_touch OR is_contact)
        AS first_touch_campaign,
    countIf(is_touch OR is_contact) AS touches,
    countIf(is_contact) AS contacts,
    countIf(is_contact AND multichannel) AS multichannel_contacts,
    arraySort(groupUniqArrayIf(toString(channel), is_touch OR is_contact)) AS channels,
    sum(revenue_minor) AS revenue_total_minor,
    arraySort(groupUniqArrayIf(assumeNotNull(currency), revenue_minor != 0
        AND currency IS NOT NULL)) AS currencies,
    countIf(revenue_minor != 0) AS orders
FROM client_events
WHERE has(canonical_ids, client_id)
GROUP BY client_id
ORDER BY client_id
