-- Every child with a checkup or immunization record, and the span in which the data can hold its doses:
-- from the day the health records begin, or the child's latest move into the region from outside it
-- (doses given before are beyond the data's reach), until a later move out of the region.
with children as (
    select person_key, birth_date
    from {{ ref('int_children') }}
    where person_key in (
        select person_key from {{ ref('int_child_records') }} where feed in ('checkups', 'immunizations')
    )
),

region as (
    select agency_id from {{ ref('stg_agencies') }}
),

moves as (
    select links.person_key, moves.move_type, moves.from_municipality_code, moves.to_municipality_code, moves.move_date
    from {{ ref('stg_resident_moves') }} as moves
    inner join {{ ref('stg_person_links') }} as links
        on moves.agency_id = links.agency_id
        and moves.local_child_id = links.local_child_id
),

moved_in as (
    select person_key, max(move_date) as moved_in_on
    from moves
    where from_municipality_code not in (select agency_id from region)
        and to_municipality_code in (select agency_id from region)
    group by person_key
),

moved_out as (
    select moves.person_key, max(moves.move_date) as moved_out_on
    from moves
    left join moved_in on moves.person_key = moved_in.person_key
    where moves.to_municipality_code not in (select agency_id from region)
        and moves.move_date >= coalesce(moved_in.moved_in_on, date '0001-01-01')
    group by moves.person_key
)

select
    children.person_key,
    children.birth_date,
    cast(greatest(
        (select health_records_start_on from {{ ref('int_data_extent') }}), moved_in.moved_in_on
    ) as date) as records_cover_from,
    moved_out.moved_out_on as records_cover_until
from children
left join moved_in on children.person_key = moved_in.person_key
left join moved_out on children.person_key = moved_out.person_key
