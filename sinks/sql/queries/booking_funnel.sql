-- Booking funnel: distinct clients reaching each of the nine widget steps.
SELECT event_type AS step, uniqExact(client_id) AS clients, count() AS events
FROM {db}.events FINAL
WHERE family = 'touchline.events.BookingStep'
  AND ({account:String} = '' OR account_id = {account:String})
GROUP BY step
ORDER BY indexOf([
    'appointment_booking_start', 'appointment_booking_step_profiles',
    'appointment_booking_step_stores_and_services', 'appointment_booking_step_resources',
    'appointment_booking_step_available_appointments', 'appointment_booking_step_summary',
    'appointment_booking', 'appointment_booking_step_success', 'appointment_booking_step_failed'
], step)
