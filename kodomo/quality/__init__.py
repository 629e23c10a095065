"""Data quality of the valid tables: Great Expectations suites generated from the feed contracts."""
from kodomo.quality.expectations import METADATA_COLUMNS, build_suite, code_set_pattern, suite_as_json
from kodomo.quality.validation import FailedExpectation, QualityResult, validate_frame, validate_table

__all__ = [
    "METADATA_COLUMNS",
    "FailedExpectation",
    "QualityResult",
    "build_suite",
    "code_set_pattern",
    "suite_as_json",
    "validate_frame",
    "validate_table",
]
