-- Every scheduled dose of every child with a health record (int_immunization_programmes), with its dates
-- (macro immunization_dose_windows): due from, overdue after, legal window end, when the schedule stops
-- being able to say (catch-up, unnamed product), whether the dose was due before the records can hold it, and
-- when (if) it was given; and its status as of var('as_of') (default: the data's end). The status as of any
-- other date D follows from the same columns (macro immunization_status): done, due, overdue, missed_window,
-- ask_health_centre, not_on_record, not_yet_due.
with windows as (
    {{ immunization_dose_windows(ref('int_immunization_programmes'), ref('int_health_record_children'),
                                 ref('int_immunization_doses'), ['person_key'], coverage=true) }}
),

statuses as (
    select
        *,
        {{ as_of_date() }} as status_as_of,
        {{ immunization_status(as_of_date()) }} as immunization_status
    from windows
),

doses as (
    select * from {{ ref('int_immunization_doses') }}
)

select
    windows.person_key,
    windows.programme_group,
    windows.programme,
    windows.vaccine,
    windows.dose,
    windows.eligible_from,
    windows.due_by,
    windows.window_ends_on,
    windows.ask_health_centre_from,
    windows.waits_for_previous_dose,
    windows.due_before_records,
    windows.records_cover_until,
    windows.administered_on,
    windows.previous_dose_administered_on,
    windows.status_as_of,
    windows.immunization_status,
    doses.agency_id as administered_by_agency_id,
    doses.known_at as administration_known_at
from statuses as windows
left join doses
    on windows.person_key = doses.person_key
    and windows.vaccine = doses.vaccine
    and windows.dose = doses.dose
