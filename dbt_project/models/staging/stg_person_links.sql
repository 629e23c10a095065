-- One row per child record (agency_id, local_child_id) with the pseudonymous key of the linked child.
with source as (
    select * from {{ source('linkage', 'person_links') }}
),

renamed as (
    select
        agency_id,
        local_child_id,
        person_key
    from source
)

select * from renamed
