-- The features of every intake report as known at its receipt, history linked across agencies
-- (macro intake_features): what the risk model trains on and scores, and what the intake page shows.
{{ intake_features(ref('int_intakes'), 'linked') }}
