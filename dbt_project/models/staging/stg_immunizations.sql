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
        _file as source_file,
        _line as source_line,
        _delivery_date as delivered_on
    from source
)

select * from renamed
