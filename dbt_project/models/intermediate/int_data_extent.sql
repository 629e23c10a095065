-- The extent of the data: its end (the last delivery; no valid date lies after its file's delivery
-- date) and the first health record, before which no immunization window can be judged.
with last_deliveries as (
    select max(delivered_on) as last_delivered_on from {{ ref('stg_case_reports') }}
    union all
    select max(delivered_on) from {{ ref('stg_assessments') }}
    union all
    select max(delivered_on) from {{ ref('stg_checkups') }}
    union all
    select max(delivered_on) from {{ ref('stg_immunizations') }}
    union all
    select max(delivered_on) from {{ ref('stg_resident_moves') }}
    union all
    select max(delivered_on) from {{ ref('stg_alerts') }}
),

first_health_records as (
    select min(administered_date) as first_record_on from {{ ref('stg_immunizations') }}
    union all
    select min(coalesce(exam_date, scheduled_date)) from {{ ref('stg_checkups') }}
)

select
    (select max(last_delivered_on) from last_deliveries) as data_ends_on,
    (select min(first_record_on) from first_health_records) as health_records_start_on
