-- Case reports with the linked child, the age band at intake and when each outcome became known.
-- No names and no birth date: the age band is computed from the reporting agency's own record.
with reports as (
    select * from {{ ref('stg_case_reports') }}
),

outcomes as (
    select * from {{ ref('int_case_report_outcomes') }}
),

links as (
    select * from {{ ref('stg_person_links') }}
)

select
    links.person_key,
    reports.agency_id,
    reports.report_id,
    reports.local_child_id,
    reports.address_municipality_code,
    reports.received_at,
    -- a report counts for others from when it is both received and on record
    greatest(reports.received_at, outcomes.first_recorded_at) as report_known_at,
    reports.route,
    reports.abuse_types,
    {{ age_band('reports.birth_date', 'reports.received_at') }} as age_band,
    reports.safety_confirmed_at,
    outcomes.safety_confirmation_known_at,
    reports.substantiation,
    outcomes.substantiated_known_at,
    outcomes.unsubstantiated_known_at,
    reports.is_temporarily_protected,
    reports.temporary_protection_at,
    outcomes.protection_known_at,
    reports.is_severe_harm,
    outcomes.severe_harm_known_at
from reports
inner join links
    on reports.agency_id = links.agency_id
    and reports.local_child_id = links.local_child_id
inner join outcomes
    on reports.agency_id = outcomes.agency_id
    and reports.report_id = outcomes.report_id
