-- The managers' statistics before suppression: one row per table, period, agency, breakdown, category and
-- measure, with the counts behind it (never a child-level row). kodomo/statistics withholds small cells
-- (primary and complementary suppression) before anything is shown or exported: nothing else reads this.
--
-- Grain: fiscal quarters (April-June = Q1, label '2024Q3' for October-December 2024) and fiscal years
-- ('FY2024'), complete ones only (a quarter that ends after the data's end is left out, and so is its year);
-- quarters and breakdowns prefecture-wide, agencies by fiscal year (see expanded, below).
-- Every cell is additive along three lines, which the complementary suppression relies on:
--   categories of a breakdown sum to its 'total' (each fact has exactly one category per breakdown: a report
--   with several abuse types is 'multiple', a missing value is 'unknown');
--   agencies sum to 'all';
--   the four quarters of a fiscal year sum to the year.
-- Tables and measures (measure kind: count, rate or median; a rate is numerator / population):
--   reports           report_count by abuse_type, route, age_band (at the receiving agency, by receipt date)
--   report_outcomes   safety_confirmed_48h_rate (reports whose 48 hours ended by the data's end; seen within
--                     48 hours of receipt), temporary_protection_rate (all reports), substantiation_rate
--                     (reports with a yes/no finding; yes)
--   transfers         transfer_count (moves of a child with an open case, at the agency of the last report,
--                     by move date), destination_notice_rate (a moved notice reached the destination),
--                     destination_notice_median_days (move to that notice, for moves with one)
--   checkups          checkup_no_show_rate: sessions held (attended or missed) that were missed, at the
--                     municipality, by the session's date (a missed session made up later counts as missed),
--                     by checkup_type and birth_cohort
--   immunizations     immunization_coverage_rate: scheduled doses due in the period given by the due date, at
--                     the municipality holding the child's health record on the due date, by vaccine and
--                     birth_cohort
-- Not derivable: whether and when a notice was acknowledged (the alerts feed has no acknowledgement).
{#- A date's fiscal year (April-March), as SQL over the placeholder DAY. -#}
{%- set fiscal_year = "(year(DAY) - case when month(DAY) < 4 then 1 else 0 end)" %}
{%- set fiscal_quarter_label = "(cast(" ~ fiscal_year ~ " as varchar) || 'Q' || cast((month(DAY) + 8) % 12 // 3 + 1 as varchar))" %}
{%- set fiscal_year_label = "('FY' || cast(" ~ fiscal_year ~ " as varchar))" %}

with extent as (
    select
        data_ends_on,
        -- the first day after the last complete fiscal quarter
        cast(date_trunc('quarter', data_ends_on + interval 1 day - interval 3 month) + interval 3 month as date)
            as quarters_end_before,
        -- the first day after the last complete fiscal year
        make_date(cast({{ fiscal_year.replace('DAY', 'cast(data_ends_on + interval 1 day as date)') }} as integer), 4, 1) as years_end_before
    from {{ ref('int_data_extent') }}
),

reports as (
    select
        reports.*,
        cast(reports.received_at as date) as event_date,
        case when reports.abuse_types like '%;%' then 'multiple' else coalesce(reports.abuse_types, 'unknown') end
            as abuse_type
    from {{ ref('int_case_reports_linked') }} as reports
),

links as (
    select * from {{ ref('stg_person_links') }}
),

children as (
    select person_key, {{ fiscal_year_label.replace('DAY', 'birth_date') }} as birth_cohort
    from {{ ref('int_children') }}
),

health_records as (
    select links.person_key, checkups.agency_id, coalesce(checkups.exam_date, checkups.scheduled_date) as record_date
    from {{ ref('stg_checkups') }} as checkups
    inner join links
        on checkups.agency_id = links.agency_id and checkups.local_child_id = links.local_child_id
    union all
    select links.person_key, doses.agency_id, doses.administered_date
    from {{ ref('stg_immunizations') }} as doses
    inner join links
        on doses.agency_id = links.agency_id and doses.local_child_id = links.local_child_id
),

first_health_agencies as (
    select person_key, arg_min(agency_id, record_date) as agency_id
    from health_records
    group by person_key
),

-- One row per fact, breakdown and category: table_name, measure, person_key, agency_id, event_date,
-- breakdown, category, is_hit (the numerator of a rate), days (of a median).
facts as (
    select 'reports' as table_name, 'report_count' as measure, person_key, agency_id, event_date,
        breakdown, category, cast(null as boolean) as is_hit, cast(null as double) as days
    from reports
    cross join lateral (
        select 'abuse_type' as breakdown, abuse_type as category
        union all select 'route', coalesce(route, 'unknown')
        union all select 'age_band', coalesce(age_band, 'unknown')
    )

    union all
    select 'report_outcomes', 'safety_confirmed_48h_rate', person_key, agency_id, event_date, 'all', 'total',
        coalesce(safety_confirmed_at <= received_at + interval 48 hour, false), null
    from reports
    where received_at + interval 48 hour <= (select cast(data_ends_on as timestamp) from extent)
    union all
    select 'report_outcomes', 'temporary_protection_rate', person_key, agency_id, event_date, 'all', 'total',
        coalesce(is_temporarily_protected, false), null
    from reports
    union all
    select 'report_outcomes', 'substantiation_rate', person_key, agency_id, event_date, 'all', 'total',
        substantiation = 'yes', null
    from reports
    where substantiation in ('yes', 'no')

    union all
    select 'transfers', 'transfer_count', person_key, last_report_agency_id, event_date, 'all', 'total', null, null
    from {{ ref('transfer_alerts') }}
    where alert_kind = 'transfer'
    union all
    select 'transfers', 'destination_notice_rate', person_key, last_report_agency_id, event_date, 'all', 'total',
        coalesce(is_notice_sent_to_destination, false), null
    from {{ ref('transfer_alerts') }}
    where alert_kind = 'transfer'
    union all
    select 'transfers', 'destination_notice_median_days', person_key, last_report_agency_id, event_date,
        'all', 'total', null, days_from_move_to_destination_notice
    from {{ ref('transfer_alerts') }}
    where alert_kind = 'transfer' and days_from_move_to_destination_notice is not null

    union all
    select 'checkups', 'checkup_no_show_rate', links.person_key, outcomes.agency_id,
        coalesce(outcomes.missed_session_date, outcomes.scheduled_date), breakdown, category, outcomes.was_missed, null
    from {{ ref('int_checkup_outcomes') }} as outcomes
    inner join links
        on outcomes.agency_id = links.agency_id and outcomes.local_child_id = links.local_child_id
    left join children
        on links.person_key = children.person_key
    cross join lateral (
        select 'checkup_type' as breakdown, outcomes.checkup_type as category
        union all select 'birth_cohort', coalesce(children.birth_cohort, 'unknown')
    )
    where outcomes.was_missed or outcomes.checkup_status = 'attended'

    union all
    select 'immunizations', 'immunization_coverage_rate', windows.person_key,
        -- the municipality of the child's latest health record on or before the due date, else its first
        coalesce(latest.agency_id, first_health_agencies.agency_id), windows.due_by, breakdown, category,
        coalesce(windows.administered_on <= windows.due_by, false), null
    from {{ ref('int_immunization_dose_windows') }} as windows
    asof left join health_records as latest
        on windows.person_key = latest.person_key
        and windows.due_by >= latest.record_date
    left join first_health_agencies
        on windows.person_key = first_health_agencies.person_key
    left join children
        on windows.person_key = children.person_key
    cross join lateral (
        select 'vaccine' as breakdown, windows.vaccine as category
        union all select 'birth_cohort', coalesce(children.birth_cohort, 'unknown')
    )
    -- doses the data can hold: due while the child lived in the region, after the records began
    where not windows.due_before_records
        and (windows.records_cover_until is null or windows.due_by <= windows.records_cover_until)
),

complete_facts as (
    select facts.*
    from facts
    where facts.event_date < (select quarters_end_before from extent)
        and facts.agency_id is not null
),

-- Each fact counts in its quarter and year (complete years only), at its agency and 'all', under its
-- category and the breakdown's 'total'.
by_period as (
    select *,
        unnest([{{ fiscal_quarter_label.replace('DAY', 'event_date') }}] || case
            when event_date < (select years_end_before from extent) then [{{ fiscal_year_label.replace('DAY', 'event_date') }}]
            else [] end) as period
    from complete_facts
),

by_agency as (
    select * exclude (agency_id), unnest([agency_id, 'all']) as agency_id
    from by_period
),

expanded as (
    select * exclude (category),
        unnest(case when category = 'total' then ['total'] else [category, 'total'] end) as category
    from by_agency
),

published_grain as (
    select *
    from expanded
    -- The published grain: prefecture-wide ('all') by quarter and year under every breakdown; each agency
    -- by fiscal year, its totals, and for immunizations its birth cohorts (issue 13). An agency's quarters
    -- and other breakdowns are mostly under 10 children at prefecture scale (a municipality receives about
    -- 8 reports a quarter; its checkup no-shows of a birth cohort in a year are a handful), so they are not
    -- made at all (measured on a prefecture world: three quarters of them would be withheld).
    where agency_id = 'all'
        or period like 'FY%' and (category = 'total' or table_name = 'immunizations' and breakdown = 'birth_cohort')
)

select
    table_name,
    period,
    case when period like 'FY%' then 'fiscal_year' else 'quarter' end as period_grain,
    agency_id,
    breakdown,
    category,
    measure,
    case
        when measure like '%\_count' escape '\' then 'count'
        when measure like '%\_rate' escape '\' then 'rate'
        else 'median'
    end as measure_kind,
    count(*) as population,
    case when measure like '%\_rate' escape '\' then count(*) filter (where is_hit) end as numerator,
    count(distinct person_key) as child_count,
    case
        when measure like '%\_count' escape '\' then cast(count(*) as double)
        when measure like '%\_rate' escape '\' then count(*) filter (where is_hit) / count(*)
        else median(days)
    end as value
from published_grain
group by table_name, period, agency_id, breakdown, category, measure
