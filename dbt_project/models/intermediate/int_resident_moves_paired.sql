-- One row per move of a linked child. The origin records a move_out and the destination a move_in,
-- either may be missing, and their dates may differ a little: a move_out and a move_in of the same
-- child between the same municipalities within a month of each other are one move.
with moves as (
    select
        links.person_key,
        moves.agency_id,
        moves.move_id,
        moves.move_type,
        moves.from_municipality_code,
        moves.to_municipality_code,
        moves.move_date,
        greatest(cast(moves.move_date as timestamp), moves.updated_at) as known_at
    from {{ ref('stg_resident_moves') }} as moves
    inner join {{ ref('stg_person_links') }} as links
        on moves.agency_id = links.agency_id
        and moves.local_child_id = links.local_child_id
),

move_outs as (
    select * from moves where move_type = 'move_out'
),

move_ins as (
    select * from moves where move_type = 'move_in'
),

candidate_pairs as (
    select
        move_outs.agency_id as out_agency_id,
        move_outs.move_id as out_move_id,
        move_ins.agency_id as in_agency_id,
        move_ins.move_id as in_move_id,
        abs(date_diff('day', move_outs.move_date, move_ins.move_date)) as days_apart
    from move_outs
    inner join move_ins
        on move_outs.person_key = move_ins.person_key
        and move_outs.from_municipality_code = move_ins.from_municipality_code
        and move_outs.to_municipality_code = move_ins.to_municipality_code
        and abs(date_diff('day', move_outs.move_date, move_ins.move_date)) <= 31
),

pairs as (
    -- each record pairs with its nearest counterpart, and only when that choice is mutual
    select out_agency_id, out_move_id, in_agency_id, in_move_id
    from candidate_pairs
    qualify
        row_number() over (partition by out_agency_id, out_move_id order by days_apart, in_agency_id, in_move_id) = 1
        and row_number() over (partition by in_agency_id, in_move_id order by days_apart, out_agency_id, out_move_id) = 1
),

paired as (
    select
        move_outs.person_key,
        move_outs.from_municipality_code,
        move_outs.to_municipality_code,
        -- the origin's date: the child left then
        move_outs.move_date,
        move_outs.agency_id as move_out_agency_id,
        move_outs.move_id as move_out_id,
        move_ins.agency_id as move_in_agency_id,
        move_ins.move_id as move_in_id,
        -- known once either side has it on record
        least(move_outs.known_at, move_ins.known_at) as known_at
    from pairs
    inner join move_outs on pairs.out_agency_id = move_outs.agency_id and pairs.out_move_id = move_outs.move_id
    inner join move_ins on pairs.in_agency_id = move_ins.agency_id and pairs.in_move_id = move_ins.move_id
),

unpaired_outs as (
    select
        person_key, from_municipality_code, to_municipality_code, move_date,
        agency_id as move_out_agency_id, move_id as move_out_id,
        null as move_in_agency_id, null as move_in_id,
        known_at
    from move_outs
    anti join pairs on move_outs.agency_id = pairs.out_agency_id and move_outs.move_id = pairs.out_move_id
),

unpaired_ins as (
    select
        person_key, from_municipality_code, to_municipality_code, move_date,
        null as move_out_agency_id, null as move_out_id,
        agency_id as move_in_agency_id, move_id as move_in_id,
        known_at
    from move_ins
    anti join pairs on move_ins.agency_id = pairs.in_agency_id and move_ins.move_id = pairs.in_move_id
),

all_moves as (
    select * from paired
    union all by name select * from unpaired_outs
    union all by name select * from unpaired_ins
)

select
    coalesce(move_out_agency_id || ':' || move_out_id, move_in_agency_id || ':' || move_in_id) as move_key,
    person_key,
    from_municipality_code,
    to_municipality_code,
    move_date,
    move_out_agency_id,
    move_out_id,
    move_in_agency_id,
    move_in_id,
    move_out_id is not null as is_reported_by_origin,
    move_in_id is not null as is_reported_by_destination,
    known_at
from all_moves
