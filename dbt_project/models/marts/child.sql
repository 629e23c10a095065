-- One row per linked child: the agencies that know it, when it was first and last seen, and how
-- many events of each kind its record holds. Pseudonymous: birth year-month only, no names.
with children as (
    select * from {{ ref('int_children') }}
),

records as (
    select * from {{ ref('int_child_records') }}
),

events as (
    select * from {{ ref('int_child_events') }}
),

agencies as (
    select
        person_key,
        string_agg(distinct agency_id, ';' order by agency_id) as agency_ids,
        count(distinct agency_id) as agency_count,
        count(distinct agency_id || ':' || local_child_id) as child_record_count,
        min(updated_at) as first_recorded_at,
        max(updated_at) as last_recorded_at
    from records
    group by person_key
),

event_counts as (
    select
        person_key,
        min(event_at) as first_seen_at,
        max(event_at) as last_seen_at,
        count(*) filter (where event_type = 'report_received') as report_count,
        count(*) filter (where event_type = 'report_substantiated') as substantiated_report_count,
        count(*) filter (where event_type = 'temporary_protection') as temporary_protection_count,
        count(*) filter (where event_type = 'severe_harm_recorded') as severe_harm_report_count,
        count(*) filter (where event_type = 'assessment') as assessment_count,
        count(*) filter (where event_type = 'checkup_attended') as checkup_attended_count,
        count(*) filter (where event_type = 'checkup_no_show') as checkup_no_show_count,
        count(*) filter (where event_type = 'immunization') as immunization_count,
        count(*) filter (where event_type in ('move_out', 'move_in')) as move_record_count,
        count(*) filter (where event_type = 'alert_missing') as missing_alert_count
    from events
    group by person_key
)

select
    children.person_key,
    children.birth_year_month,
    children.sex,
    agencies.agency_ids,
    agencies.agency_count,
    agencies.child_record_count,
    -- a child with only a scheduled checkup has no event yet, but is on record
    least(event_counts.first_seen_at, agencies.first_recorded_at) as first_seen_at,
    greatest(event_counts.last_seen_at, agencies.last_recorded_at) as last_seen_at,
    coalesce(event_counts.report_count, 0) as report_count,
    coalesce(event_counts.substantiated_report_count, 0) as substantiated_report_count,
    coalesce(event_counts.temporary_protection_count, 0) as temporary_protection_count,
    coalesce(event_counts.severe_harm_report_count, 0) as severe_harm_report_count,
    coalesce(event_counts.assessment_count, 0) as assessment_count,
    coalesce(event_counts.checkup_attended_count, 0) as checkup_attended_count,
    coalesce(event_counts.checkup_no_show_count, 0) as checkup_no_show_count,
    coalesce(event_counts.immunization_count, 0) as immunization_count,
    coalesce(event_counts.move_record_count, 0) as move_record_count,
    coalesce(event_counts.missing_alert_count, 0) as missing_alert_count
from children
inner join agencies on children.person_key = agencies.person_key
left join event_counts on children.person_key = event_counts.person_key
