{#- The immunization rules over any set of subjects, so that the health record (one subject per linked
    child, every dose on record) and the intake features (one subject per intake, the doses known at its
    receipt) apply the same rules. `key` lists the subject's key columns; `children` is a relation with
    the key and birth_date; `doses` one with the key, vaccine, dose and administered_on (at most one row
    per subject, vaccine and dose); `programmes` the output of immunization_programmes. The schedule is
    the seed immunization_schedule. -#}

{#- The programme each subject follows in each group of alternatives of the schedule (5-in-1 or
    4-in-1 + hib; rota 2 or 3 doses): the one that holds all of its doses of the group; among equals,
    the one offered when its first dose was (or would be) due; then the preferred one. -#}
{% macro immunization_programmes(children, doses, key) %}
{%- set keys = key | join(', ') %}
with programme_schedule as (
    select * from {{ ref('immunization_schedule') }}
),

programme_options as (
    select
        programme_group,
        programme,
        min(programme_rank) as programme_rank,
        min(first_dose_from) as first_dose_from,
        min(first_dose_before) as first_dose_before
    from programme_schedule
    group by programme_group, programme
),

first_dose_ages as (
    select programme, earliest_age
    from programme_schedule
    where dose = 1
),

group_doses as (
    select {% for k in key %}given.{{ k }}, {% endfor %}vaccines.programme_group, given.vaccine, given.dose, given.administered_on
    from {{ doses }} as given
    inner join (select distinct programme_group, vaccine from programme_schedule) as vaccines
        on given.vaccine = vaccines.vaccine
),

candidates as (
    select
        {% for k in key %}subjects.{{ k }},
        {% endfor -%}
        programme_options.programme_group,
        programme_options.programme,
        programme_options.programme_rank,
        programme_options.first_dose_from,
        programme_options.first_dose_before,
        (
            select min(cast(subjects.birth_date + cast(ages.earliest_age as interval) as date))
            from first_dose_ages as ages
            where ages.programme = programme_options.programme
        ) as scheduled_first_dose_on
    from {{ children }} as subjects
    cross join programme_options
),

fit as (
    select
        {% for k in key %}candidates.{{ k }},
        {% endfor -%}
        candidates.programme_group,
        candidates.programme,
        candidates.programme_rank,
        candidates.first_dose_from,
        candidates.first_dose_before,
        candidates.scheduled_first_dose_on,
        count(group_doses.dose) - count(programme_schedule.dose) as doses_outside_programme,
        count(programme_schedule.dose) as doses_in_programme,
        min(group_doses.administered_on) as first_dose_given_on
    from candidates
    left join group_doses
        on {% for k in key %}candidates.{{ k }} = group_doses.{{ k }}
        and {% endfor %}candidates.programme_group = group_doses.programme_group
    left join programme_schedule
        on candidates.programme = programme_schedule.programme
        and group_doses.vaccine = programme_schedule.vaccine
        and group_doses.dose = programme_schedule.dose
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
    {{ keys }},
    programme_group,
    programme
from offered
qualify row_number() over (
    partition by {{ keys }}, programme_group
    order by doses_outside_programme, is_offered_at_first_dose desc, doses_in_programme desc, programme_rank
) = 1
{% endmacro %}


{#- Every scheduled dose of each subject's programmes with its dates: eligible from, due by, routine
    window end, and when (if) it was given. Intervals count from the dose actually given before, so
    each date uses only earlier doses: a status as of D (macro immunization_status) needs nothing given
    after D. -#}
{% macro immunization_dose_windows(programmes, children, doses, key) %}
with window_schedule as (
    select * from {{ ref('immunization_schedule') }}
),

scheduled as (
    select
        {% for k in key %}subjects.{{ k }},
        {% endfor -%}
        subjects.birth_date,
        {{ school_entry_date('subjects.birth_date') }} as school_entry_on,
        window_schedule.*
    from {{ programmes }} as chosen
    inner join {{ children }} as subjects
        on {% for k in key %}{% if not loop.first %} and {% endif %}chosen.{{ k }} = subjects.{{ k }}{% endfor %}
    inner join window_schedule
        on chosen.programme = window_schedule.programme
    where window_schedule.routine_for_births_from is null
        or subjects.birth_date >= window_schedule.routine_for_births_from
),

with_doses as (
    select
        scheduled.*,
        given.administered_on,
        previous.administered_on as previous_dose_administered_on,
        reference.administered_on as reference_dose_administered_on
    from scheduled
    left join {{ doses }} as given
        on {% for k in key %}scheduled.{{ k }} = given.{{ k }}
        and {% endfor %}scheduled.vaccine = given.vaccine
        and scheduled.dose = given.dose
    left join {{ doses }} as previous
        on {% for k in key %}scheduled.{{ k }} = previous.{{ k }}
        and {% endfor %}scheduled.vaccine = previous.vaccine
        and scheduled.dose - 1 = previous.dose
    left join {{ doses }} as reference
        on {% for k in key %}scheduled.{{ k }} = reference.{{ k }}
        and {% endfor %}scheduled.vaccine = reference.vaccine
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
    {{ key | join(', ') }},
    programme_group,
    programme,
    vaccine,
    dose,
    eligible_from,
    due_by,
    window_ends_on,
    administered_on,
    previous_dose_administered_on
from windows
{% endmacro %}
