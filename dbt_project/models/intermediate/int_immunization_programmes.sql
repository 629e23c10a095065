-- The programme each child with a health record follows in each group of alternatives of the schedule
-- (macro immunization_programmes). Every such child is covered, whatever its age or moves: doses due before
-- the records can hold them are told apart by status (not_on_record), not by leaving the child out.
with children as (
    select person_key, birth_date from {{ ref('int_health_record_children') }}
),

programmes as (
    {{ immunization_programmes('children', ref('int_immunization_doses'), ['person_key']) }}
)

select * from programmes
