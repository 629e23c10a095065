-- Per checkup record, what its versions said and when: a checkup is announced as 'scheduled', then
-- updated to 'attended' or 'no_show', and a no-show is sometimes made up later (the record then says
-- 'attended'). The latest version alone would hide that the session was missed.
with versions as (
    select * from {{ ref('stg_checkups_versions') }}
),

latest as (
    select * from {{ ref('stg_checkups') }}
),

status_history as (
    select
        agency_id,
        local_child_id,
        checkup_type,
        min(updated_at) filter (where checkup_status = 'no_show') as no_show_known_at,
        arg_min(scheduled_date, updated_at) filter (where checkup_status = 'no_show') as missed_session_date,
        min(updated_at) filter (where checkup_status = 'attended') as attendance_known_at
    from versions
    group by agency_id, local_child_id, checkup_type
)

select
    latest.agency_id,
    latest.local_child_id,
    latest.checkup_type,
    latest.scheduled_date,
    latest.checkup_status,
    latest.exam_date,
    latest.checkup_result,
    status_history.missed_session_date,
    status_history.no_show_known_at,
    status_history.attendance_known_at,
    status_history.no_show_known_at is not null as was_missed,
    latest.updated_at
from latest
inner join status_history
    on latest.agency_id = status_history.agency_id
    and latest.local_child_id = status_history.local_child_id
    and latest.checkup_type = status_history.checkup_type
