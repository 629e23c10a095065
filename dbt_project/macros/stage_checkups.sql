{#- The staging select of checkups, shared by the latest table and its version history. -#}
{% macro stage_checkups(source_relation) %}
with source as (
    select * from {{ source_relation }}
),

renamed as (
    select
        agency_id,
        local_child_id,
        child_name,
        child_kana,
        sex,
        birth_date,
        checkup_type,
        scheduled_date,
        status as checkup_status,
        exam_date,
        height_cm,
        weight_kg,
        head_circumference_cm,
        result as checkup_result,
        notes,
        updated_at,
        {{ lineage_columns() }}
    from source
)

select * from renamed
{% endmacro %}
