-- Every scheduled dose of every child whose routine history the data holds (int_immunization_programmes),
-- with its dates: eligible from, due by, routine window end, and when (if) it was given. Status as of any date D follows from these dates
-- (macro immunization_status): done, missed_window, overdue, due, not_yet_due. Each date uses only
-- earlier doses, so a status as of D needs nothing given after D.
with schedule as (
    select * from {{ ref('immunization_schedule') }}
),

scheduled as (
    select
        programmes.person_key,
        children.birth_date,
        {{ school_entry_date('children.birth_date') }} as school_entry_on,
        schedule.*
    from {{ ref('int_immunization_programmes') }} as programmes
    inner join {{ ref('int_children') }} as children
        on programmes.person_key = children.person_key
    inner join schedule
        on programmes.programme = schedule.programme
    where schedule.routine_for_births_from is null or children.birth_date >= schedule.routine_for_births_from
),

doses as (
    select * from {{ ref('int_immunization_doses') }}
),

with_doses as (
    select
        scheduled.*,
        given.administered_on,
        given.agency_id,
        given.known_at,
        previous.administered_on as previous_dose_administered_on,
        reference.administered_on as reference_dose_administered_on
    from scheduled
    left join doses as given
        on scheduled.person_key = given.person_key
        and scheduled.vaccine = given.vaccine
        and scheduled.dose = given.dose
    left join doses as previous
        on scheduled.person_key = previous.person_key
        and scheduled.vaccine = previous.vaccine
        and scheduled.dose - 1 = previous.dose
    left join doses as reference
        on scheduled.person_key = reference.person_key
        and scheduled.vaccine = reference.vaccine
        and coalesce(scheduled.interval_from_dose, scheduled.dose - 1) = reference.dose
),

eligibility as (
    -- a dose that counts from an earlier dose not given yet has no eligibility date yet
    select
        *,
        case
            when timing_basis = 'year_before_school' then cast(school_entry_on - interval 1 year as date)
            when min_interval is not null and reference_dose_administered_on is null then null
            else cast(greatest(
                birth_date + cast(earliest_age as interval),
                reference_dose_administered_on + cast(min_interval as interval)
            ) as date)
        end as eligible_from
    from with_doses
),

windows as (
    -- due by the previous dose + the standard longest interval where the schedule has one (no date
    -- while that dose is not given), else by the due-by age; never before eligibility
    select
        *,
        case
            when timing_basis = 'year_before_school' then cast(school_entry_on - interval 1 day as date)
            when max_interval is not null and previous_dose_administered_on is null then null
            when max_interval is not null
                then cast(greatest(previous_dose_administered_on + cast(max_interval as interval), eligible_from) as date)
            else cast(greatest(birth_date + cast(due_by_age as interval) - interval 1 day, eligible_from) as date)
        end as due_by,
        case
            when timing_basis = 'year_before_school' then cast(school_entry_on - interval 1 day as date)
            else cast(birth_date + cast(window_end_age as interval) - interval 1 day as date)
        end as window_ends_on
    from eligibility
)

select
    person_key,
    programme_group,
    programme,
    vaccine,
    dose,
    eligible_from,
    due_by,
    window_ends_on,
    administered_on,
    previous_dose_administered_on,
    agency_id as administered_by_agency_id,
    known_at as administration_known_at
from windows
