{#- The immunization rules over any set of subjects, so that the health record (one subject per linked
    child, every dose on record) and the intake features (one subject per intake, the doses known at its
    receipt) apply the same rules. `key` lists the subject's key columns; `children` is a relation with
    the key and birth_date; `doses` one with the key, vaccine, dose and administered_on (at most one row
    per subject, vaccine and dose); `programmes` the output of immunization_programmes. The schedule is
    the seed immunization_schedule, and these two macros with immunization_status are the only code that
    reads its rules. -#}

{#- The programme each subject follows in each group of alternatives of the schedule (5-in-1 or
    4-in-1 + hib; rota 2 or 3 doses): the one that holds all of its doses of the group; among equals,
    the one offered when its first dose was (or would be) due; then, when doses are on record, the one
    with more doses to come; then the preferred one. When another programme fits the recorded doses as
    well (one or two rota doses: 1価 or 5価, the feed does not say), doses_certain_up_to is the other's
    number of doses: the later doses depend on a product the data does not name. -#}
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
    select programme, due_from_age
    from programme_schedule
    where dose = 1
),

programme_sizes as (
    select programme, count(*) as scheduled_doses
    from programme_schedule
    group by programme
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
            select min(cast(subjects.birth_date + cast(ages.due_from_age as interval) as date))
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
        fit.*,
        programme_sizes.scheduled_doses,
        coalesce(first_dose_given_on, scheduled_first_dose_on) >= coalesce(first_dose_from, date '0001-01-01')
            and coalesce(first_dose_given_on, scheduled_first_dose_on) < coalesce(first_dose_before, date '9999-12-31')
            as is_offered_at_first_dose
    from fit
    inner join programme_sizes
        on fit.programme = programme_sizes.programme
),

ranked as (
    select
        *,
        row_number() over (
            partition by {{ keys }}, programme_group
            order by doses_outside_programme, is_offered_at_first_dose desc, doses_in_programme desc,
                case when doses_in_programme > 0 then scheduled_doses end desc nulls last, programme_rank
        ) as preference,
        -- the fewest doses among the programmes that fit the recorded doses exactly as well
        min(scheduled_doses) over (
            partition by {{ keys }}, programme_group, doses_outside_programme, is_offered_at_first_dose,
                doses_in_programme
        ) as fewest_doses_of_equals
    from offered
)

select
    {{ keys }},
    programme_group,
    programme,
    case
        when doses_in_programme > 0 and doses_outside_programme = 0 and fewest_doses_of_equals < scheduled_doses
            then fewest_doses_of_equals
    end as doses_certain_up_to
from ranked
where preference = 1
{% endmacro %}


{#- Every scheduled dose of each subject's programmes with its dates: due from (eligible_from), overdue
    after (due_by), legal window end (window_ends_on), when (if) it was given, and when the schedule stops
    being able to say (ask_health_centre_from: catch-up rules or an unnamed product). Intervals count from
    the dose actually given before, so each date uses only earlier doses: a status as of D (macro
    immunization_status) needs nothing given after D.
    With `coverage`, `children` also has records_cover_from / records_cover_until: the span in which the
    data can hold the child's doses (from the records' start or a move into the region, until a move out
    of it); a dose due from before that span and not on record is 'not_on_record', not overdue. -#}
{% macro immunization_dose_windows(programmes, children, doses, key, coverage=false) %}
with window_schedule as (
    select * from {{ ref('immunization_schedule') }}
),

scheduled as (
    select
        {% for k in key %}subjects.{{ k }},
        {% endfor -%}
        subjects.birth_date,
        {%- if coverage %}
        subjects.records_cover_from,
        subjects.records_cover_until,
        {%- else %}
        cast(null as date) as records_cover_from,
        cast(null as date) as records_cover_until,
        {%- endif %}
        chosen.doses_certain_up_to,
        {{ school_entry_date('subjects.birth_date') }} as school_entry_on,
        window_schedule.*,
        -- a child who reached the old start age before the rule changed is judged by the old rule
        coalesce(subjects.birth_date + cast(window_schedule.old_due_from_age as interval)
                 < window_schedule.old_rule_until, false) as follows_old_rule
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
        reference.administered_on as reference_dose_administered_on,
        first_of_series.administered_on as first_dose_administered_on,
        case
            when scheduled.timing_basis = 'year_before_school' then cast(scheduled.school_entry_on - interval 1 year as date)
            when scheduled.follows_old_rule then cast(scheduled.birth_date + cast(scheduled.old_due_from_age as interval) as date)
            -- under the new rule no earlier than its first day
            when scheduled.old_rule_until is not null then cast(greatest(
                scheduled.birth_date + cast(scheduled.due_from_age as interval), scheduled.old_rule_until) as date)
            else cast(scheduled.birth_date + cast(scheduled.due_from_age as interval) as date)
        end as standard_from,
        cast(scheduled.birth_date + cast(
            case when scheduled.follows_old_rule then scheduled.old_overdue_from_age else scheduled.overdue_from_age end
            as interval) - interval 1 day as date) as standard_until
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
    left join {{ doses }} as first_of_series
        on {% for k in key %}scheduled.{{ k }} = first_of_series.{{ k }}
        and {% endfor %}scheduled.vaccine = first_of_series.vaccine
        and first_of_series.dose = 1
),

eligibility as (
    -- a dose that counts from an earlier dose not given yet has no date yet
    select
        *,
        case
            when timing_basis = 'year_before_school' then standard_from
            when min_interval is not null and reference_dose_administered_on is null then null
            else cast(greatest(standard_from, reference_dose_administered_on + cast(min_interval as interval)) as date)
        end as eligible_from,
        case
            when timing_basis = 'year_before_school' then cast(school_entry_on - interval 1 day as date)
            else cast(birth_date + cast(legal_until_age as interval) - interval 1 day as date)
        end as window_ends_on
    from with_doses
),

windows as (
    -- overdue after the previous dose + the standard longest interval where the schedule has one (no date
    -- while that dose is not given), else after the standard period; never before the dose is due
    select
        *,
        case
            when timing_basis = 'year_before_school' then window_ends_on
            when max_interval is not null and previous_dose_administered_on is null then null
            when max_interval is not null
                then cast(greatest(previous_dose_administered_on + cast(max_interval as interval), eligible_from) as date)
            else cast(greatest(standard_until, eligible_from) as date)
        end as due_by,
        -- the day after an earlier dose of the series closed its legal window without being given in it
        min(case when administered_on is null or administered_on > window_ends_on then window_ends_on + 1 end) over (
            partition by {{ key | join(', ') }}, programme, vaccine
            order by dose rows between unbounded preceding and 1 preceding
        ) as series_broken_on
    from eligibility
),

catch_up as (
    select
        *,
        case
            when doses_certain_up_to is not null and dose > doses_certain_up_to then birth_date
            else least(
                -- the first dose not given before the catch-up age: fewer doses, from that age
                case
                    when catch_up_if_first_dose_from_age is not null
                        and coalesce(first_dose_administered_on >= birth_date + cast(catch_up_if_first_dose_from_age as interval), true)
                        then cast(birth_date + cast(catch_up_if_first_dose_from_age as interval) as date)
                end,
                -- a booster after a primary dose that missed its window (MR 2 and je 2期 are given regardless)
                case
                    when catch_up_if_first_dose_from_age is not null and series_broken_on <= window_ends_on
                        then series_broken_on
                end
            )
        end as ask_health_centre_from
    from windows
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
    ask_health_centre_from,
    -- a dose timed from an earlier dose of its series (not MR 2期 or je 2期, which are given regardless)
    min_interval is not null as waits_for_previous_dose,
    -- a dose due from before the records can hold the child's doses (by the earlier dose as given, else by age)
    coalesce(coalesce(eligible_from, standard_from) < records_cover_from, false) as due_before_records,
    records_cover_until,
    administered_on,
    previous_dose_administered_on
from catch_up
{% endmacro %}
