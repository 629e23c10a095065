-- The programme each child follows in each group of alternatives of the schedule (5-in-1 or
-- 4-in-1 + hib; rota 2 or 3 doses): the one that holds all of the child's doses of the group; among
-- equals, the one offered when the child's first dose was (or would be) due; then the preferred one.
with children as (
    -- Children whose whole routine history the data can hold: known to a municipality's health
    -- services, born once the health records begin, and never moved into or out of the region (doses
    -- given outside it are beyond the data's reach, and would look missed).
    select children.person_key, children.birth_date
    from {{ ref('int_children') }} as children
    where children.birth_date >= (select health_records_start_on from {{ ref('int_data_extent') }})
        and children.person_key in (
            select person_key from {{ ref('int_child_records') }} where feed in ('checkups', 'immunizations')
        )
        and children.person_key not in (
            select links.person_key
            from {{ ref('stg_resident_moves') }} as moves
            inner join {{ ref('stg_person_links') }} as links
                on moves.agency_id = links.agency_id
                and moves.local_child_id = links.local_child_id
            where moves.from_municipality_code not in (select agency_id from {{ ref('stg_agencies') }})
                or moves.to_municipality_code not in (select agency_id from {{ ref('stg_agencies') }})
        )
),

schedule as (
    select * from {{ ref('immunization_schedule') }}
),

programmes as (
    select
        programme_group,
        programme,
        min(programme_rank) as programme_rank,
        min(first_dose_from) as first_dose_from,
        min(first_dose_before) as first_dose_before
    from schedule
    group by programme_group, programme
),

first_dose_ages as (
    select programme, earliest_age
    from schedule
    where dose = 1
),

group_doses as (
    select doses.person_key, vaccines.programme_group, doses.vaccine, doses.dose, doses.administered_on
    from {{ ref('int_immunization_doses') }} as doses
    inner join (select distinct programme_group, vaccine from schedule) as vaccines
        on doses.vaccine = vaccines.vaccine
),

candidates as (
    select
        children.person_key,
        programmes.programme_group,
        programmes.programme,
        programmes.programme_rank,
        programmes.first_dose_from,
        programmes.first_dose_before,
        (
            select min(cast(children.birth_date + cast(ages.earliest_age as interval) as date))
            from first_dose_ages as ages
            where ages.programme = programmes.programme
        ) as scheduled_first_dose_on
    from children
    cross join programmes
),

fit as (
    select
        candidates.person_key,
        candidates.programme_group,
        candidates.programme,
        candidates.programme_rank,
        candidates.first_dose_from,
        candidates.first_dose_before,
        candidates.scheduled_first_dose_on,
        count(group_doses.dose) - count(schedule.dose) as doses_outside_programme,
        count(schedule.dose) as doses_in_programme,
        min(group_doses.administered_on) as first_dose_given_on
    from candidates
    left join group_doses
        on candidates.person_key = group_doses.person_key
        and candidates.programme_group = group_doses.programme_group
    left join schedule
        on candidates.programme = schedule.programme
        and group_doses.vaccine = schedule.vaccine
        and group_doses.dose = schedule.dose
    group by all
),

offered as (
    select
        *,
        coalesce(first_dose_given_on, scheduled_first_dose_on) >= coalesce(first_dose_from, date '0001-01-01')
            and coalesce(first_dose_given_on, scheduled_first_dose_on) < coalesce(first_dose_before, date '9999-12-31')
            as is_offered_at_first_dose
    from fit
)

select
    person_key,
    programme_group,
    programme
from offered
qualify row_number() over (
    partition by person_key, programme_group
    order by doses_outside_programme, is_offered_at_first_dose desc, doses_in_programme desc, programme_rank
) = 1
