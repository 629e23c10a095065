with source as (
    select * from {{ source('valid', 'resident_moves') }}
),

renamed as (
    select
        agency_id,
        move_id,
        local_child_id,
        child_name,
        child_kana,
        sex,
        birth_date,
        move_type,
        from_municipality_code,
        to_municipality_code,
        move_date,
        updated_at,
        {{ lineage_columns() }}
    from source
)

select * from renamed
