with source as (
    select * from {{ source('valid', 'alerts') }}
),

renamed as (
    select
        agency_id,
        alert_id,
        local_child_id,
        child_name,
        child_kana,
        sex,
        birth_date,
        alert_type,
        issued_at,
        destination_agency_id,
        summary,
        updated_at,
        {{ lineage_columns() }}
    from source
)

select * from renamed
