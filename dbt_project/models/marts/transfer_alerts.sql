-- Children who may fall between agencies. Two kinds of rows:
--   transfer: a move of a child with an open case (a report in the var('open_case_days') days up to
--             the move), and whether a moved notice went to the destination (its municipality or the
--             child guidance centre covering it);
--   missing:  a missing notice, paired with the first found notice of the child after it.
-- Every row carries the dates it rests on (known_at, notice and found times) for queries as of a date.
with moves as (
    select * from {{ ref('int_resident_moves_paired') }}
),

reports as (
    select * from {{ ref('int_case_reports_linked') }}
),

alerts as (
    select
        links.person_key,
        alerts.agency_id,
        alerts.alert_id,
        alerts.alert_type,
        alerts.issued_at,
        alerts.destination_agency_id,
        greatest(alerts.issued_at, alerts.updated_at) as known_at
    from {{ ref('stg_alerts') }} as alerts
    inner join {{ ref('stg_person_links') }} as links
        on alerts.agency_id = links.agency_id
        and alerts.local_child_id = links.local_child_id
),

agencies as (
    select * from {{ ref('stg_agencies') }}
),

open_cases as (
    select
        moves.move_key,
        count(*) as open_case_report_count,
        max(reports.received_at) as last_report_received_at,
        arg_max(reports.agency_id, reports.received_at) as last_report_agency_id
    from moves
    inner join reports
        on moves.person_key = reports.person_key
        and reports.received_at < moves.move_date + interval 1 day
        and reports.received_at >= moves.move_date - interval {{ var('open_case_days') }} day
    group by moves.move_key
),

moved_notices as (
    select
        moves.move_key,
        alerts.agency_id,
        alerts.issued_at,
        alerts.destination_agency_id,
        alerts.destination_agency_id in (moves.to_municipality_code, destination.covering_cgc_id) as is_to_destination
    from moves
    inner join alerts
        on moves.person_key = alerts.person_key
        and alerts.alert_type = 'moved'
        and alerts.issued_at >= moves.move_date - interval {{ var('moved_notice_days_before') }} day
        and alerts.issued_at < moves.move_date + interval {{ var('moved_notice_days_after') + 1 }} day
    left join agencies as destination
        on moves.to_municipality_code = destination.agency_id
),

notice_summary as (
    select
        move_key,
        min(issued_at) as first_notice_issued_at,
        arg_min(agency_id, issued_at) as first_notice_agency_id,
        min(issued_at) filter (where is_to_destination) as destination_notice_issued_at,
        arg_min(destination_agency_id, issued_at) filter (where is_to_destination) as destination_notice_agency_id
    from moved_notices
    group by move_key
),

transfers as (
    select
        'transfer' as alert_kind,
        moves.move_key as alert_key,
        moves.person_key,
        moves.move_date as event_date,
        moves.known_at,
        moves.from_municipality_code,
        moves.to_municipality_code,
        destination.agency_id is not null as is_destination_in_region,
        destination.covering_cgc_id as destination_cgc_id,
        moves.is_reported_by_origin,
        moves.is_reported_by_destination,
        open_cases.open_case_report_count,
        open_cases.last_report_received_at,
        open_cases.last_report_agency_id,
        notice_summary.first_notice_issued_at is not null as has_moved_notice,
        notice_summary.first_notice_issued_at,
        notice_summary.first_notice_agency_id,
        notice_summary.destination_notice_issued_at is not null as is_notice_sent_to_destination,
        notice_summary.destination_notice_issued_at,
        notice_summary.destination_notice_agency_id,
        date_diff('day', moves.move_date, cast(notice_summary.destination_notice_issued_at as date))
            as days_from_move_to_destination_notice
    from moves
    inner join open_cases on moves.move_key = open_cases.move_key
    left join notice_summary on moves.move_key = notice_summary.move_key
    left join agencies as destination on moves.to_municipality_code = destination.agency_id
),

missing as (
    select
        missing.person_key,
        missing.agency_id || ':' || missing.alert_id as alert_key,
        missing.agency_id as missing_agency_id,
        missing.issued_at as missing_issued_at,
        missing.known_at,
        found.agency_id as found_agency_id,
        found.issued_at as found_issued_at,
        found.known_at as found_known_at
    from alerts as missing
    left join alerts as found
        on missing.person_key = found.person_key
        and found.alert_type = 'found'
        and found.issued_at >= missing.issued_at
    where missing.alert_type = 'missing'
    qualify row_number() over (
        partition by missing.agency_id, missing.alert_id
        order by found.issued_at, found.agency_id, found.alert_id
    ) = 1
),

missing_rows as (
    select
        'missing' as alert_kind,
        alert_key,
        person_key,
        cast(missing_issued_at as date) as event_date,
        known_at,
        missing_agency_id,
        missing_issued_at,
        found_issued_at is not null as is_found,
        found_agency_id,
        found_issued_at,
        found_known_at,
        round(date_diff('minute', missing_issued_at, found_issued_at) / 1440.0, 2) as days_to_found
    from missing
),

unioned as (
    select * from transfers
    union all by name
    select * from missing_rows
)

select
    alert_kind,
    alert_key,
    person_key,
    event_date,
    known_at,
    from_municipality_code,
    to_municipality_code,
    is_destination_in_region,
    destination_cgc_id,
    is_reported_by_origin,
    is_reported_by_destination,
    open_case_report_count,
    last_report_received_at,
    last_report_agency_id,
    has_moved_notice,
    first_notice_issued_at,
    first_notice_agency_id,
    is_notice_sent_to_destination,
    destination_notice_issued_at,
    destination_notice_agency_id,
    days_from_move_to_destination_notice,
    missing_agency_id,
    missing_issued_at,
    is_found,
    found_agency_id,
    found_issued_at,
    found_known_at,
    days_to_found
from unioned
