-- One row per linked child with the sex and birth date most of its records agree on: a birth date
-- can be mistyped in one record (a day off, day and month swapped), so no single record is trusted.
-- The exact birth date stays in the intermediate layer, for the rules that need it (due dates).
with records as (
    select * from {{ ref('int_child_records') }}
),

birth_date_votes as (
    select person_key, birth_date, count(*) as n_records
    from records
    group by person_key, birth_date
),

birth_dates as (
    select person_key, birth_date
    from birth_date_votes
    qualify row_number() over (partition by person_key order by n_records desc, birth_date) = 1
),

sex_votes as (
    select person_key, sex, count(*) as n_records
    from records
    group by person_key, sex
),

sexes as (
    select person_key, sex
    from sex_votes
    -- '9' (unknown) only when no record knows better
    qualify row_number() over (partition by person_key order by sex = '9', n_records desc, sex) = 1
)

select
    birth_dates.person_key,
    birth_dates.birth_date,
    strftime(birth_dates.birth_date, '%Y-%m') as birth_year_month,
    sexes.sex
from birth_dates
inner join sexes on birth_dates.person_key = sexes.person_key
