with source as (
    select * from {{ source('valid', 'agencies') }}
),

renamed as (
    select
        agency_id,
        agency_type,
        name as agency_name,
        prefecture_code,
        -- a municipality's child guidance centre; null for a centre itself
        cgc_id as covering_cgc_id
    from source
)

select * from renamed
