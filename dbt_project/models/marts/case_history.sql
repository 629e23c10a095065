-- One row per case report with the linked child's prior history across all agencies, as it was known
-- when the report was received (t = received_at): prior reports received before t and on record by t,
-- each with its outcome as recorded at t (the version current at t), and prior events known by t.
-- The report's own outcomes carry the time they became known, so a query as of any date can mask them.
with reports as (
    select * from {{ ref('int_case_reports_linked') }}
),

versions as (
    select * from {{ ref('int_case_report_versions') }}
),

events as (
    select * from {{ ref('int_child_events') }}
),

prior_reports as (
    select
        reports.agency_id,
        reports.report_id,
        prior.agency_id as prior_agency_id,
        prior.received_at as prior_received_at,
        -- what the prior report's record said at t
        as_of_t.substantiation = 'yes' as was_substantiated,
        as_of_t.is_temporarily_protected and as_of_t.temporary_protection_at < reports.received_at as was_protected,
        as_of_t.temporary_protection_at as protected_at,
        as_of_t.is_severe_harm as was_severe_harm
    from reports
    inner join reports as prior
        on reports.person_key = prior.person_key
        and prior.received_at < reports.received_at
        and prior.report_known_at <= reports.received_at
    inner join versions as as_of_t
        on prior.agency_id = as_of_t.agency_id
        and prior.report_id = as_of_t.report_id
        and as_of_t.valid_from <= reports.received_at
        and (as_of_t.valid_to is null or as_of_t.valid_to > reports.received_at)
),

prior_report_summary as (
    select
        agency_id,
        report_id,
        count(*) as prior_report_count,
        count(*) filter (where prior_agency_id <> agency_id) as prior_report_other_agency_count,
        count(distinct prior_agency_id) as prior_report_agency_count,
        min(prior_received_at) as first_prior_report_at,
        max(prior_received_at) as last_prior_report_at,
        count(*) filter (where was_substantiated) as prior_substantiated_count,
        max(prior_received_at) filter (where was_substantiated) as last_prior_substantiated_report_at,
        count(*) filter (where was_protected) as prior_protection_count,
        max(protected_at) filter (where was_protected) as last_prior_protection_at,
        count(*) filter (where was_severe_harm) as prior_severe_harm_count
    from prior_reports
    group by agency_id, report_id
),

prior_events as (
    select
        reports.agency_id,
        reports.report_id,
        count(*) filter (where events.event_type = 'alert_missing') as prior_missing_alert_count,
        count(*) filter (where events.event_type in ('move_out', 'move_in')) as prior_move_record_count,
        count(*) filter (where events.event_type = 'checkup_no_show') as prior_checkup_no_show_count
    from reports
    inner join events
        on reports.person_key = events.person_key
        and events.event_at < reports.received_at
        and events.known_at <= reports.received_at
    group by reports.agency_id, reports.report_id
)

select
    reports.person_key,
    reports.agency_id,
    reports.report_id,
    reports.received_at,
    reports.report_known_at,
    reports.address_municipality_code,
    reports.route,
    reports.abuse_types,
    reports.age_band,
    reports.safety_confirmed_at,
    reports.safety_confirmation_known_at,
    coalesce(reports.safety_confirmed_at <= reports.received_at + interval 48 hour, false) as is_safety_confirmed_within_48h,
    reports.substantiation,
    reports.substantiated_known_at,
    reports.unsubstantiated_known_at,
    reports.is_temporarily_protected,
    reports.temporary_protection_at,
    reports.protection_known_at,
    reports.is_severe_harm,
    reports.severe_harm_known_at,
    coalesce(prior.prior_report_count, 0) as prior_report_count,
    coalesce(prior.prior_report_other_agency_count, 0) as prior_report_other_agency_count,
    coalesce(prior.prior_report_agency_count, 0) as prior_report_agency_count,
    prior.first_prior_report_at,
    prior.last_prior_report_at,
    coalesce(prior.prior_substantiated_count, 0) as prior_substantiated_count,
    prior.last_prior_substantiated_report_at,
    coalesce(prior.prior_protection_count, 0) as prior_protection_count,
    prior.last_prior_protection_at,
    coalesce(prior.prior_severe_harm_count, 0) as prior_severe_harm_count,
    coalesce(prior_events.prior_missing_alert_count, 0) as prior_missing_alert_count,
    coalesce(prior_events.prior_move_record_count, 0) as prior_move_record_count,
    coalesce(prior_events.prior_checkup_no_show_count, 0) as prior_checkup_no_show_count
from reports
left join prior_report_summary as prior
    on reports.agency_id = prior.agency_id
    and reports.report_id = prior.report_id
left join prior_events
    on reports.agency_id = prior_events.agency_id
    and reports.report_id = prior_events.report_id
