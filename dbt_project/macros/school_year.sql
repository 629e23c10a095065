{#- Japanese school years start on April 1. A child enters elementary school on the April 1 after
    turning 6; children born on April 1 join the year above (the legal age increases the day before
    a birthday), so the cohort runs from April 2 to April 1. -#}
{% macro school_entry_date(birth_date) -%}
    make_date(
        cast(year({{ birth_date }}) - case when {{ birth_date }} <= make_date(year({{ birth_date }}), 4, 1) then 1 else 0 end + 7 as integer),
        4, 1
    )
{%- endmacro %}

{#- Age bands of the national child-abuse statistics (福祉行政報告例): 0-2 years, 3 years to school
    entry, elementary, junior high, high school age and older. -#}
{% macro age_band(birth_date, at_date) -%}
    case
        when {{ birth_date }} is null or {{ at_date }} is null then null
        when cast({{ at_date }} as date) >= {{ school_entry_date(birth_date) }} + interval 9 year then 'high_school_and_older'
        when cast({{ at_date }} as date) >= {{ school_entry_date(birth_date) }} + interval 6 year then 'junior_high'
        when cast({{ at_date }} as date) >= {{ school_entry_date(birth_date) }} then 'elementary'
        when cast({{ at_date }} as date) >= {{ birth_date }} + interval 3 year then 'age_3_to_school'
        else 'age_0_to_2'
    end
{%- endmacro %}
