-- The programme each child follows in each group of alternatives of the schedule (macro
-- immunization_programmes), for the children whose whole routine history the data can hold: known to a
-- municipality's health services, born once the health records begin, and never moved into or out of
-- the region (doses given outside it are beyond the data's reach, and would look missed). The intake
-- features judge every child, within the window the records cover (int_intake_immunizations).
with children as (
    select children.person_key, children.birth_date
    from {{ ref('int_children') }} as children
    where children.birth_date >= (select health_records_start_on from {{ ref('int_data_extent') }})
        and children.person_key in (
            select person_key from {{ ref('int_child_records') }} where feed in ('checkups', 'immunizations')
        )
        and children.person_key not in (
            select links.person_key
            from {{ ref('stg_resident_moves') }} as moves
            inner join {{ ref('stg_person_links') }} as links
                on moves.agency_id = links.agency_id
                and moves.local_child_id = links.local_child_id
            where moves.from_municipality_code not in (select agency_id from {{ ref('stg_agencies') }})
                or moves.to_municipality_code not in (select agency_id from {{ ref('stg_agencies') }})
        )
),

programmes as (
    {{ immunization_programmes('children', ref('int_immunization_doses'), ['person_key']) }}
)

select * from programmes
