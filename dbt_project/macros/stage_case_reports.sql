{#- The staging select of case reports, shared by the latest table and its version history so the
    two stay column-for-column the same. -#}
{% macro stage_case_reports(source_relation) %}
with source as (
    select * from {{ source_relation }}
),

renamed as (
    select
        agency_id,
        report_id,
        local_child_id,
        child_name,
        child_kana,
        sex,
        birth_date,
        address_municipality_code,
        received_at,
        route,
        abuse_types,
        safety_confirmed_at,
        substantiated as substantiation,
        temporary_protection = 'yes' as is_temporarily_protected,
        temporary_protection_at,
        severe_harm = 'yes' as is_severe_harm,
        updated_at,
        {{ lineage_columns() }}
    from source
)

select * from renamed
{% endmacro %}
