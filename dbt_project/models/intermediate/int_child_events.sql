-- Every event of a linked child, one row per event, from all feeds and agencies.
-- event_at is when it happened; known_at when the platform could know it (never before event_at):
-- filtering on known_at <= t gives exactly what was known at t. Free text and names are left out.
-- local_child_id is the record's own ID in its agency: a history within one agency follows it.
with reports as (
    select * from {{ ref('int_case_reports_linked') }}
),

links as (
    select * from {{ ref('stg_person_links') }}
),

report_events as (
    select
        person_key, agency_id, local_child_id, report_id,
        'case_reports' as source_feed, report_id as source_id,
        'report_received' as event_type,
        received_at as event_at, report_known_at as known_at,
        route, abuse_types
    from reports
),

safety_events as (
    select
        person_key, agency_id, local_child_id, report_id,
        'case_reports' as source_feed, report_id as source_id,
        'safety_confirmed' as event_type,
        safety_confirmed_at as event_at,
        greatest(safety_confirmed_at, safety_confirmation_known_at, report_known_at) as known_at
    from reports
    where safety_confirmed_at is not null
),

substantiation_events as (
    -- the decision has no date of its own: it happened when the version carrying it was recorded
    select
        person_key, agency_id, local_child_id, report_id,
        'case_reports' as source_feed, report_id as source_id,
        'report_substantiated' as event_type,
        substantiated_known_at as event_at, substantiated_known_at as known_at,
        'yes' as substantiation
    from reports
    where substantiated_known_at is not null
    union all
    select
        person_key, agency_id, local_child_id, report_id,
        'case_reports', report_id,
        'report_unsubstantiated',
        unsubstantiated_known_at, unsubstantiated_known_at,
        'no'
    from reports
    where unsubstantiated_known_at is not null
),

protection_events as (
    select
        person_key, agency_id, local_child_id, report_id,
        'case_reports' as source_feed, report_id as source_id,
        'temporary_protection' as event_type,
        temporary_protection_at as event_at,
        greatest(temporary_protection_at, protection_known_at) as known_at
    from reports
    where is_temporarily_protected
),

severe_harm_events as (
    select
        person_key, agency_id, local_child_id, report_id,
        'case_reports' as source_feed, report_id as source_id,
        'severe_harm_recorded' as event_type,
        severe_harm_known_at as event_at, severe_harm_known_at as known_at
    from reports
    where is_severe_harm
),

assessment_events as (
    select
        reports.person_key, assessments.agency_id, reports.local_child_id, assessments.report_id,
        'assessments' as source_feed, assessments.assessment_id as source_id,
        'assessment' as event_type,
        assessments.assessed_at as event_at,
        greatest(assessments.assessed_at, assessments.updated_at) as known_at,
        assessments.worker_decision
    from {{ ref('stg_assessments') }} as assessments
    inner join reports
        on assessments.agency_id = reports.agency_id
        and assessments.report_id = reports.report_id
),

checkups as (
    select links.person_key, outcomes.*
    from {{ ref('int_checkup_outcomes') }} as outcomes
    inner join links
        on outcomes.agency_id = links.agency_id
        and outcomes.local_child_id = links.local_child_id
),

checkup_events as (
    -- a missed session stays an event even when it was made up later; a checkup still 'scheduled'
    -- has not happened: it is in the health record, not the timeline
    select
        person_key, agency_id, local_child_id,
        'checkups' as source_feed, checkup_type as source_id,
        'checkup_no_show' as event_type,
        cast(missed_session_date as timestamp) as event_at,
        greatest(cast(missed_session_date as timestamp), no_show_known_at) as known_at,
        checkup_type, 'no_show' as checkup_status
    from checkups
    where was_missed
    union all by name
    select
        person_key, agency_id, local_child_id,
        'checkups' as source_feed, checkup_type as source_id,
        'checkup_attended' as event_type,
        cast(exam_date as timestamp) as event_at,
        greatest(cast(exam_date as timestamp), attendance_known_at) as known_at,
        checkup_type, 'attended' as checkup_status, checkup_result
    from checkups
    where checkup_status = 'attended'
),

immunization_events as (
    select
        links.person_key, doses.agency_id, doses.local_child_id,
        'immunizations' as source_feed, doses.vaccine || '_' || doses.dose as source_id,
        'immunization' as event_type,
        cast(doses.administered_date as timestamp) as event_at,
        greatest(cast(doses.administered_date as timestamp), doses.updated_at) as known_at,
        doses.vaccine, doses.dose
    from {{ ref('stg_immunizations') }} as doses
    inner join links
        on doses.agency_id = links.agency_id
        and doses.local_child_id = links.local_child_id
),

move_events as (
    select
        links.person_key, moves.agency_id, moves.local_child_id,
        'resident_moves' as source_feed, moves.move_id as source_id,
        moves.move_type as event_type,
        cast(moves.move_date as timestamp) as event_at,
        greatest(cast(moves.move_date as timestamp), moves.updated_at) as known_at,
        moves.from_municipality_code, moves.to_municipality_code
    from {{ ref('stg_resident_moves') }} as moves
    inner join links
        on moves.agency_id = links.agency_id
        and moves.local_child_id = links.local_child_id
),

alert_events as (
    select
        links.person_key, alerts.agency_id, alerts.local_child_id,
        'alerts' as source_feed, alerts.alert_id as source_id,
        'alert_' || alerts.alert_type as event_type,
        alerts.issued_at as event_at,
        greatest(alerts.issued_at, alerts.updated_at) as known_at,
        alerts.alert_type, alerts.destination_agency_id
    from {{ ref('stg_alerts') }} as alerts
    inner join links
        on alerts.agency_id = links.agency_id
        and alerts.local_child_id = links.local_child_id
),

unioned as (
    select * from report_events
    union all by name select * from safety_events
    union all by name select * from substantiation_events
    union all by name select * from protection_events
    union all by name select * from severe_harm_events
    union all by name select * from assessment_events
    union all by name select * from checkup_events
    union all by name select * from immunization_events
    union all by name select * from move_events
    union all by name select * from alert_events
)

select
    person_key,
    event_at,
    known_at,
    event_type,
    agency_id,
    local_child_id,
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
from unioned
