{#- Every code in a separated code set (e.g. 'neglect;physical') is in the accepted list. -#}
{% test accepted_code_set(model, column_name, values, separator) %}
with codes as (
    select unnest(string_split({{ column_name }}, '{{ separator }}')) as code
    from {{ model }}
    where {{ column_name }} is not null
)
select code from codes
where code not in ({% for v in values %}'{{ v }}'{{ ", " if not loop.last }}{% endfor %})
{% endtest %}
