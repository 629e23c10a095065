-- Monthly statistics per agency, in long form (one row per agency, month, measure and breakdown):
--   reports                       count of reports received, by all / abuse_type / route / age_band
--                                 (a report with two abuse types counts once under each)
--   safety_confirmed_within_48h   share of reports whose child was seen within 48 hours (reports
--                                 whose 48 hours ended after the data's end are left out)
--   checkup_no_show               share of checkups held (attended or missed) that were missed, by
--                                 checkup_type (a missed session made up later counts as missed)
--   immunization_on_time          share of scheduled doses due in the month that were given by the
--                                 due date, by vaccine_dose, counted at the municipality holding the
--                                 child's health record on the due date
-- No published cell shows fewer than var('min_published_cell') children: a small count, or a share
-- whose numerator, complement or denominator is small, is NULL with is_suppressed = true.
-- Complementary (differencing) suppression across rows is not applied: see the model's docs.
with reports as (
    select * from {{ ref('int_case_reports_linked') }}
),

extent as (
    select * from {{ ref('int_data_extent') }}
),

report_months as (
    select *, cast(date_trunc('month', received_at) as date) as month_start
    from reports
),

report_counts as (
    select agency_id, month_start, 'reports' as measure, 'all' as dimension, 'all' as dimension_value,
        count(*) as numerator, cast(null as bigint) as denominator
    from report_months
    group by all
    union all
    select agency_id, month_start, 'reports', 'abuse_type', abuse_type, count(*), null
    from (select *, unnest(string_split(abuse_types, ';')) as abuse_type from report_months)
    group by all
    union all
    select agency_id, month_start, 'reports', 'route', route, count(*), null
    from report_months
    group by all
    union all
    select agency_id, month_start, 'reports', 'age_band', age_band, count(*), null
    from report_months
    where age_band is not null
    group by all
),

safety_confirmation as (
    select
        agency_id, month_start, 'safety_confirmed_within_48h' as measure, 'all' as dimension, 'all' as dimension_value,
        count(*) filter (where safety_confirmed_at <= received_at + interval 48 hour) as numerator,
        count(*) as denominator
    from report_months
    where received_at + interval 48 hour <= (select cast(data_ends_on as timestamp) from extent)
    group by all
),

checkup_no_shows as (
    -- a session missed and made up later still counts as missed, in the month of the missed session
    select
        agency_id,
        cast(date_trunc('month', coalesce(missed_session_date, scheduled_date)) as date) as month_start,
        'checkup_no_show' as measure, 'checkup_type' as dimension, checkup_type as dimension_value,
        count(*) filter (where was_missed) as numerator,
        count(*) as denominator
    from {{ ref('int_checkup_outcomes') }}
    where was_missed or checkup_status = 'attended'
    group by all
),

health_records as (
    select links.person_key, checkups.agency_id, coalesce(checkups.exam_date, checkups.scheduled_date) as record_date
    from {{ ref('stg_checkups') }} as checkups
    inner join {{ ref('stg_person_links') }} as links
        on checkups.agency_id = links.agency_id and checkups.local_child_id = links.local_child_id
    union all
    select links.person_key, doses.agency_id, doses.administered_date
    from {{ ref('stg_immunizations') }} as doses
    inner join {{ ref('stg_person_links') }} as links
        on doses.agency_id = links.agency_id and doses.local_child_id = links.local_child_id
),

first_health_agencies as (
    select person_key, arg_min(agency_id, record_date) as agency_id
    from health_records
    group by person_key
),

doses_due as (
    -- the municipality of the child's latest health record on or before the due date, else its first
    select
        coalesce(latest.agency_id, first_health_agencies.agency_id) as agency_id,
        windows.vaccine,
        windows.dose,
        windows.due_by,
        windows.administered_on
    from {{ ref('int_immunization_dose_windows') }} as windows
    asof left join health_records as latest
        on windows.person_key = latest.person_key
        and windows.due_by >= latest.record_date
    left join first_health_agencies
        on windows.person_key = first_health_agencies.person_key
    where windows.due_by < (select data_ends_on from extent)
),

immunization_coverage as (
    select
        agency_id,
        cast(date_trunc('month', due_by) as date) as month_start,
        'immunization_on_time' as measure, 'vaccine_dose' as dimension, vaccine || '_' || dose as dimension_value,
        count(*) filter (where administered_on <= due_by) as numerator,
        count(*) as denominator
    from doses_due
    group by all
),

measures as (
    select * from report_counts
    union all select * from safety_confirmation
    union all select * from checkup_no_shows
    union all select * from immunization_coverage
),

flagged as (
    {%- set min_cell = var('min_published_cell') %}
    select
        *,
        coalesce(
            numerator between 1 and {{ min_cell - 1 }}
            or denominator < {{ min_cell }}
            or denominator - numerator between 1 and {{ min_cell - 1 }},
            false
        ) as is_suppressed
    from measures
)

select
    flagged.agency_id,
    agencies.agency_type,
    flagged.month_start,
    flagged.measure,
    flagged.dimension,
    flagged.dimension_value,
    case when not flagged.is_suppressed then flagged.numerator end as count_value,
    case when not flagged.is_suppressed then flagged.denominator end as denominator,
    case when not flagged.is_suppressed and flagged.denominator > 0
        then round(flagged.numerator / flagged.denominator, 4) end as rate,
    flagged.is_suppressed
from flagged
inner join {{ ref('stg_agencies') }} as agencies
    on flagged.agency_id = agencies.agency_id
