{#- Status of one scheduled dose as of a date, from the dates of macro immunization_dose_windows.
    Only what is known on that date is used: a dose given later is not done, and a dose whose
    previous dose is not done yet is not due yet (the previous dose carries the delay).
    done; not_on_record: due from before the records can hold the child's doses (born before the records
    begin, moved in from outside the region) or the child lives outside the region since; ask_health_centre:
    catch-up rules or a product the data does not name decide what is needed; missed_window: the legal
    window closed; overdue: past the standard period; due: in it; not_yet_due. -#}
{% macro immunization_status(as_of) -%}
    case
        when administered_on <= {{ as_of }} then 'done'
        when due_before_records or {{ as_of }} > records_cover_until then 'not_on_record'
        when {{ as_of }} >= ask_health_centre_from then 'ask_health_centre'
        when {{ as_of }} > window_ends_on then 'missed_window'
        when waits_for_previous_dose and not coalesce(previous_dose_administered_on <= {{ as_of }}, false)
            then 'not_yet_due'
        when {{ as_of }} > due_by then 'overdue'
        when {{ as_of }} >= eligible_from then 'due'
        else 'not_yet_due'
    end
{%- endmacro %}

{#- The statuses immunization_status gives, in the order a health nurse reads them. -#}
{% macro immunization_statuses() -%}
    {{ return(['done', 'due', 'overdue', 'missed_window', 'ask_health_centre', 'not_on_record', 'not_yet_due']) }}
{%- endmacro %}

{#- The date statuses are computed as of: the var `as_of` (YYYY-MM-DD) if given, else the data's end. -#}
{% macro as_of_date() -%}
    {%- if var('as_of') -%}
        date '{{ var("as_of") }}'
    {%- else -%}
        (select data_ends_on from {{ ref('int_data_extent') }})
    {%- endif -%}
{%- endmacro %}
