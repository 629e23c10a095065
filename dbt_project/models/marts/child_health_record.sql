-- A child's health record, for every child with a checkup or immunization record: one row per checkup
-- (results and growth) and one per scheduled dose of the routine immunization schedule with its dates and
-- its status as of var('as_of') (default: the data's end), from int_immunization_dose_windows. The macro
-- immunization_status(D) over the same columns gives the status as of any other date D, using nothing that
-- happened after D (kodomo.health.record.statuses_as_of runs it).
with checkups as (
    select
        links.person_key,
        checkups.agency_id,
        checkups.checkup_type,
        checkups.scheduled_date,
        checkups.checkup_status,
        checkups.exam_date,
        date_sub('month', children.birth_date, checkups.exam_date) as age_months_at_exam,
        checkups.height_cm,
        checkups.weight_kg,
        checkups.head_circumference_cm,
        round(checkups.weight_kg / ((checkups.height_cm / 100) ^ 2), 1) as bmi,
        checkups.checkup_result,
        -- an announced session is known from its notice; an examination not before it happened
        greatest(cast(checkups.exam_date as timestamp), checkups.updated_at) as known_at
    from {{ ref('stg_checkups') }} as checkups
    inner join {{ ref('stg_person_links') }} as links
        on checkups.agency_id = links.agency_id
        and checkups.local_child_id = links.local_child_id
    inner join {{ ref('int_children') }} as children
        on links.person_key = children.person_key
),

checkup_growth as (
    select
        *,
        -- growth since the child's previous measurement (at any agency)
        height_cm - lag(height_cm ignore nulls) over by_child as height_gain_cm,
        weight_kg - lag(weight_kg ignore nulls) over by_child as weight_gain_kg
    from checkups
    window by_child as (partition by person_key order by coalesce(exam_date, scheduled_date), checkup_type)
),

dose_windows as (
    select * from {{ ref('int_immunization_dose_windows') }}
),

checkup_rows as (
    select
        person_key,
        'checkup' as record_type,
        coalesce(exam_date, scheduled_date) as record_date,
        agency_id,
        checkup_type,
        scheduled_date,
        checkup_status,
        exam_date,
        age_months_at_exam,
        height_cm,
        weight_kg,
        head_circumference_cm,
        bmi,
        height_gain_cm,
        weight_gain_kg,
        checkup_result,
        known_at
    from checkup_growth
),

dose_rows as (
    select
        person_key,
        'immunization' as record_type,
        coalesce(administered_on, due_by) as record_date,
        administered_by_agency_id as agency_id,
        programme,
        vaccine,
        dose,
        eligible_from,
        due_by,
        window_ends_on,
        ask_health_centre_from,
        waits_for_previous_dose,
        due_before_records,
        records_cover_until,
        administered_on,
        previous_dose_administered_on,
        status_as_of,
        immunization_status,
        administration_known_at as known_at
    from dose_windows
),

unioned as (
    select * from checkup_rows
    union all by name
    select * from dose_rows
)

select
    person_key,
    record_type,
    record_date,
    agency_id,
    checkup_type,
    scheduled_date,
    checkup_status,
    exam_date,
    age_months_at_exam,
    height_cm,
    weight_kg,
    head_circumference_cm,
    bmi,
    height_gain_cm,
    weight_gain_kg,
    checkup_result,
    programme,
    vaccine,
    dose,
    eligible_from,
    due_by,
    window_ends_on,
    ask_health_centre_from,
    waits_for_previous_dose,
    due_before_records,
    records_cover_until,
    administered_on,
    previous_dose_administered_on,
    status_as_of,
    immunization_status,
    known_at
from unioned
