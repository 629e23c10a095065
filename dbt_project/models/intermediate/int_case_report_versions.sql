-- Every version of every case report with the period it was the current one (valid_from is the
-- version's updated_at; valid_to the next version's). The version current at time t is the one with
-- valid_from <= t < coalesce(valid_to, infinity): what the agency's record said at t.
with versions as (
    select * from {{ ref('stg_case_reports_versions') }}
),

ordered as (
    select
        agency_id,
        report_id,
        local_child_id,
        received_at,
        route,
        abuse_types,
        safety_confirmed_at,
        substantiation,
        is_temporarily_protected,
        temporary_protection_at,
        is_severe_harm,
        updated_at as valid_from,
        lead(updated_at) over by_report as valid_to,
        row_number() over by_report as version_number
    from versions
    -- the ingestion's order: latest updated_at wins, ties go to the later delivery
    window by_report as (
        partition by agency_id, report_id
        order by updated_at, delivered_on, delivery_seq, source_file, source_line
    )
)

select
    *,
    valid_to is null as is_latest_version
from ordered
