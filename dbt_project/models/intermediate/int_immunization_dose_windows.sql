-- Every scheduled dose of every child whose routine history the data holds (int_immunization_programmes),
-- with its dates (macro immunization_dose_windows): eligible from, due by, routine window end, and when (if)
-- it was given. Status as of any date D follows from these dates (macro immunization_status): done,
-- missed_window, overdue, due, not_yet_due.
with windows as (
    {{ immunization_dose_windows(ref('int_immunization_programmes'), ref('int_children'),
                                 ref('int_immunization_doses'), ['person_key']) }}
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
    windows.administered_on,
    windows.previous_dose_administered_on,
    doses.agency_id as administered_by_agency_id,
    doses.known_at as administration_known_at
from windows
left join doses
    on windows.person_key = doses.person_key
    and windows.vaccine = doses.vaccine
    and windows.dose = doses.dose
