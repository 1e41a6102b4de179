-- Client card, header: one row per canonical client found by {client:String} (see client_card):
-- every identifier seen, the first touch, contacts, distinct touch channels, multichannel contacts
-- and revenue (minor units, per currency code in `currencies`).
WITH ids AS (
    SELECT DISTINCT client_id
    FROM {db}.events_canonical
    WHERE ({account:String} = '' OR account_id = {account:String})
      AND (client_id = {client:String} OR stitched_client_id = {client:String}
           OR cid = {client:String} OR email = {client:String} OR phone = {client:String})
)
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
FROM {db}.events_canonical
WHERE client_id IN (SELECT client_id FROM ids)
  AND ({account:String} = '' OR account_id = {account:String})
GROUP BY client_id
ORDER BY client_id
