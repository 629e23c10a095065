-- The same features with the history of the intake's own agency record only (macro intake_features,
-- scope 'agency'): what an agency knows without the platform, the risk model's comparison.
{{ intake_features(ref('int_intakes'), 'agency') }}
