{#- Status of one scheduled dose as of a date, from the dates of int_immunization_dose_windows.
    Only what is known on that date is used: a dose given later is not done, and a dose whose
    previous dose is not done yet is not due yet (the previous dose carries the delay). -#}
{% macro immunization_status(as_of) -%}
    case
        when administered_on <= {{ as_of }} then 'done'
        when {{ as_of }} > window_ends_on then 'missed_window'
        when dose > 1 and not coalesce(previous_dose_administered_on <= {{ as_of }}, false) then 'not_yet_due'
        when {{ as_of }} > due_by then 'overdue'
        when {{ as_of }} >= eligible_from then 'due'
        else 'not_yet_due'
    end
{%- endmacro %}

{#- The date statuses are computed as of: the var `as_of` (YYYY-MM-DD) if given, else the data's end. -#}
{% macro as_of_date() -%}
    {%- if var('as_of') -%}
        date '{{ var("as_of") }}'
    {%- else -%}
        (select data_ends_on from {{ ref('int_data_extent') }})
    {%- endif -%}
{%- endmacro %}
