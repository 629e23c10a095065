{#- The staging select of assessments, shared by the latest table and its version history. -#}
{% macro stage_assessments(source_relation) %}
with source as (
    select * from {{ source_relation }}
),

renamed as (
    select
        agency_id,
        assessment_id,
        report_id,
        assessed_at,
        assessor_id,
        {%- for item in assessment_items() %}
        {{ item }},
        {%- endfor %}
        worker_decision,
        worker_rationale,
        updated_at,
        {{ lineage_columns() }}
    from source
)

select * from renamed
{% endmacro %}
