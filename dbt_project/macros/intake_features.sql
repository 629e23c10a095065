{#- The features of intakes as known at each one's receipt (received_at): a past event counts only if a
    record version on file at or before received_at says so; a report substantiated later, a checkup
    marked no-show later, a move or a dose entered later are all invisible.

    `intakes` is any relation with the columns of int_intakes: the marts pass ref('int_intakes'), the
    online path (analyses/online_intake_features.sql, ml/online_features.py) a table of new intakes that
    are not in the warehouse yet. The history is read from the warehouse's intermediate layer.

    `scope` says whose history counts: 'linked' (the child linked across agencies, person_key) or
    'agency' (the intake's own agency record only, keyed agency_id/local_child_id: what an agency sees
    without the platform).

    overdue_immunizations: the scheduled doses (macros immunization_programmes, immunization_dose_windows,
    on the doses known at receipt, intervals counted from the dose actually given before) whose status at
    receipt (macro immunization_status) is overdue or missed_window, and whose due-by date falls inside the
    window the immunization feeds cover: from the first administration in the records known at receipt to
    the day before receipt. Every child is judged the same way, whatever its age or moves; a dose that fell
    due before the records begin says nothing about the child and is not counted. -#}
{% macro intake_features(intakes, scope) %}
{%- if scope == 'linked' -%}
    {%- set history_key = "person_key" -%}
{%- elif scope == 'agency' -%}
    {%- set history_key = "agency_id || '/' || local_child_id" -%}
{%- else -%}
    {{ exceptions.raise_compiler_error("intake_features: scope must be 'linked' or 'agency', not " ~ scope) }}
{%- endif %}
with intakes as (
    select *, {{ history_key }} as history_key
    from {{ intakes }}
),

report_versions as (
    select *, {{ history_key }} as history_key
    from {{ ref('int_case_report_versions_linked') }}
),

events as (
    select *, {{ history_key }} as history_key
    from {{ ref('int_child_events') }}
),

prior_reports as (
    -- the other reports received before t, each as its version current at t said
    select
        intakes.agency_id,
        intakes.report_id,
        intakes.received_at,
        prior.agency_id as prior_agency_id,
        prior.received_at as prior_received_at,
        prior.substantiation,
        prior.is_temporarily_protected,
        prior.is_severe_harm
    from intakes
    inner join report_versions as prior
        on intakes.history_key = prior.history_key
        and prior.valid_from <= intakes.received_at
        and (prior.valid_to is null or prior.valid_to > intakes.received_at)
        and prior.received_at < intakes.received_at
        and not (prior.agency_id = intakes.agency_id and prior.report_id = intakes.report_id)
),

report_history as (
    select
        agency_id,
        report_id,
        count(*) filter (where prior_received_at >= received_at - interval 365 day) as prior_reports_1y,
        count(*) filter (where prior_received_at >= received_at - interval 730 day) as prior_reports_2y,
        count(*) as prior_reports_total,
        count(*) filter (where substantiation = 'yes') as prior_substantiated,
        count(*) filter (where is_temporarily_protected) as prior_protections,
        count(*) filter (where is_severe_harm) as prior_severe_harm,
        count(distinct prior_agency_id) filter (where prior_received_at >= received_at - interval 730 day)
            as prior_agencies_2y
    from prior_reports
    group by agency_id, report_id
),

known_events as (
    -- the child's events that happened by t and were on record by t
    select
        intakes.agency_id,
        intakes.report_id,
        intakes.received_at,
        events.event_type,
        events.event_at,
        events.agency_id as event_agency_id,
        events.source_id,
        events.checkup_type,
        events.vaccine,
        events.dose,
        events.from_municipality_code,
        events.to_municipality_code
    from intakes
    inner join events
        on intakes.history_key = events.history_key
        and events.event_at <= intakes.received_at
        and events.known_at <= intakes.received_at
    where events.event_type in ('move_out', 'move_in', 'checkup_no_show', 'checkup_attended', 'immunization',
                                'alert_moved', 'alert_missing', 'alert_found')
),

moves as (
    -- the origin's move_out and the destination's move_in describe one move: count distinct moves
    select
        agency_id,
        report_id,
        count(distinct (event_at, from_municipality_code, to_municipality_code))
            filter (where event_at >= received_at - interval 730 day) as moves_2y,
        count(distinct (event_at, from_municipality_code, to_municipality_code)) as moves_total
    from known_events
    where event_type in ('move_out', 'move_in')
    group by agency_id, report_id
),

missed_checkups as (
    -- checkups missed, and not attended in any record known at t
    select agency_id, report_id, count(*) as missed_checkups
    from (
        select agency_id, report_id, checkup_type
        from known_events
        where event_type in ('checkup_no_show', 'checkup_attended')
        group by agency_id, report_id, checkup_type
        having bool_or(event_type = 'checkup_no_show') and not bool_or(event_type = 'checkup_attended')
    ) as missed
    group by agency_id, report_id
),

open_alerts as (
    -- moved / missing notices not followed by a found notice known by t
    select
        agency_id,
        report_id,
        count(distinct (event_agency_id, source_id)) filter (
            where event_type in ('alert_moved', 'alert_missing') and (found_at is null or event_at > found_at)
        ) as open_alerts
    from (
        select *, max(event_at) filter (where event_type = 'alert_found') over (partition by agency_id, report_id)
            as found_at
        from known_events
        where event_type in ('alert_moved', 'alert_missing', 'alert_found')
    ) as alerts
    group by agency_id, report_id
),

known_doses as (
    -- each dose as first given in the records known at t
    select agency_id, report_id, vaccine, dose, min(cast(event_at as date)) as administered_on
    from known_events
    where event_type = 'immunization'
    group by agency_id, report_id, vaccine, dose
),

intake_children as (
    select agency_id, report_id, birth_date from intakes where birth_date is not null
),

intake_programmes as (
    {{ immunization_programmes('intake_children', 'known_doses', ['agency_id', 'report_id']) }}
),

intake_dose_windows as (
    {{ immunization_dose_windows('intake_programmes', 'intake_children', 'known_doses', ['agency_id', 'report_id']) }}
),

doses_at_receipt as (
    select
        windows.*,
        cast(intakes.received_at as date) as received_on,
        records.records_start_on
    from intake_dose_windows as windows
    inner join intakes
        on windows.agency_id = intakes.agency_id
        and windows.report_id = intakes.report_id
    asof inner join {{ ref('int_immunization_records_start') }} as records
        on intakes.received_at >= records.known_at
),

overdue_immunizations as (
    select agency_id, report_id, count(*) as overdue_immunizations
    from doses_at_receipt
    where {{ immunization_status('received_on') }} in ('overdue', 'missed_window')
        and due_by >= records_start_on
        and due_by < received_on
    group by agency_id, report_id
)

select
    intakes.agency_id,
    intakes.report_id,
    intakes.history_key as person_key,
    intakes.received_at,
    agencies.agency_type,
    agencies.prefecture_code,
    date_diff('day', intakes.birth_date, intakes.received_at) / 365.25 as age_years,
    cast(intakes.has_assessment as integer) as has_assessment,
    intakes.route,
    {%- for code in abuse_type_codes() %}
    cast(list_contains(string_split(intakes.abuse_types, ';'), '{{ code }}') as integer) as abuse_{{ code }},
    {%- endfor %}
    {%- for item in assessment_items() %}
    intakes.{{ item }},
    {%- endfor %}
    coalesce(report_history.prior_reports_1y, 0) as prior_reports_1y,
    coalesce(report_history.prior_reports_2y, 0) as prior_reports_2y,
    coalesce(report_history.prior_reports_total, 0) as prior_reports_total,
    coalesce(report_history.prior_substantiated, 0) as prior_substantiated,
    coalesce(report_history.prior_protections, 0) as prior_protections,
    coalesce(report_history.prior_severe_harm, 0) as prior_severe_harm,
    coalesce(report_history.prior_agencies_2y, 0) as prior_agencies_2y,
    coalesce(moves.moves_2y, 0) as moves_2y,
    coalesce(moves.moves_total, 0) as moves_total,
    coalesce(missed_checkups.missed_checkups, 0) as missed_checkups,
    coalesce(overdue_immunizations.overdue_immunizations, 0) as overdue_immunizations,
    coalesce(open_alerts.open_alerts, 0) as open_alerts
from intakes
left join {{ ref('stg_agencies') }} as agencies
    on intakes.agency_id = agencies.agency_id
left join report_history
    on intakes.agency_id = report_history.agency_id and intakes.report_id = report_history.report_id
left join moves
    on intakes.agency_id = moves.agency_id and intakes.report_id = moves.report_id
left join missed_checkups
    on intakes.agency_id = missed_checkups.agency_id and intakes.report_id = missed_checkups.report_id
left join overdue_immunizations
    on intakes.agency_id = overdue_immunizations.agency_id and intakes.report_id = overdue_immunizations.report_id
left join open_alerts
    on intakes.agency_id = open_alerts.agency_id and intakes.report_id = open_alerts.report_id
{% endmacro %}
