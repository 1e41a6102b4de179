-- NPS and CSAT per {by:String} (channel | location) from feedback events in [from, to].
-- NPS = (promoters (9-10) - detractors (0-6)) * 100 / responses; CSAT = share of responses scoring
-- at least 80% of the scale (4 or 5 of 5), and the mean score.
SELECT
    key,
    countIf(event_type = 'feedback_nps') AS nps_responses,
    countIf(event_type = 'feedback_nps' AND score >= 9) AS promoters,
    countIf(event_type = 'feedback_nps' AND score <= 6) AS detractors,
    if(nps_responses = 0, NULL, round((promoters - detractors) * 100 / nps_responses, 6)) AS nps,
    countIf(event_type = 'feedback_csat') AS csat_responses,
    if(csat_responses = 0, NULL,
       round(countIf(event_type = 'feedback_csat' AND score * 5 >= scale * 4) / csat_responses, 6))
        AS csat,
    if(csat_responses = 0, NULL,
       round(sumIf(score, event_type = 'feedback_csat') / csat_responses, 6)) AS csat_mean
FROM (
    SELECT
        event_type,
        toInt32OrZero(attributes['score']) AS score,
        if(attributes['scale'] = '', if(event_type = 'feedback_nps', 10, 5),
           toInt32OrZero(attributes['scale'])) AS scale,
        if({by:String} = 'location',
           if(ifNull(location_id, '') = '', '(none)', location_id),
           toString(channel)) AS key
    FROM {db}.events_canonical
    WHERE family = 'touchline.events.Feedback'
      AND ({account:String} = '' OR account_id = {account:String})
      AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
      AND ({location:String} = '' OR ifNull(location_id, '') = {location:String})
      AND attributes['score'] != ''
)
GROUP BY key
ORDER BY key
