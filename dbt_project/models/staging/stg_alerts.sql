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
        _file as source_file,
        _line as source_line,
        _delivery_date as delivered_on
    from source
)

select * from renamed
