-- The features of intakes that are not in the warehouse yet, by the marts' own macro: ml/online_features.py
-- runs this file's compiled SQL against a temporary table `online_intakes` (the columns of int_intakes) on a
-- read-only connection to the warehouse. Compiled by every dbt build and compile (target/compiled/).
{{ intake_features('online_intakes', 'linked') }}
