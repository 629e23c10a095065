with source as (
    select * from {{ source('valid', 'immunizations') }}
),

renamed as (
    select
        agency_id,
        local_child_id,
        child_name,
        child_kana,
        sex,
        birth_date,
        vaccine,
        dose,
        administered_date,
        updated_at,
        {{ lineage_columns() }}
    from source
)

select * from renamed
