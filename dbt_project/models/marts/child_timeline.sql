-- Every event of a linked child across agencies, in time order. As of a date t, the child's
-- history is the rows with known_at <= t (known_at is never before event_at).
with events as (
    select * from {{ ref('int_child_events') }}
)

select
    person_key,
    row_number() over (
        partition by person_key
        order by event_at, known_at, event_type, agency_id, source_id
    ) as event_sequence,
    event_at,
    cast(event_at as date) as event_date,
    known_at,
    event_type,
    agency_id,
    source_feed,
    source_id,
    report_id,
    route,
    abuse_types,
    substantiation,
    worker_decision,
    checkup_type,
    checkup_status,
    checkup_result,
    vaccine,
    dose,
    from_municipality_code,
    to_municipality_code,
    alert_type,
    destination_agency_id
from events
