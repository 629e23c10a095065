"""Data quality of the valid tables: Great Expectations suites generated from the feed contracts."""
import os

# GX 1.24 sends no telemetry, but other releases read this switch before they would; this
# machine has no internet, so none may try. Set before GX is first imported.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from kodomo.quality.expectations import METADATA_COLUMNS, build_suite, code_set_pattern, suite_as_json  # noqa: E402
from kodomo.quality.validation import FailedExpectation, QualityResult, validate_frame  # noqa: E402

__all__ = [
    "METADATA_COLUMNS",
    "FailedExpectation",
    "QualityResult",
    "build_suite",
    "code_set_pattern",
    "suite_as_json",
    "validate_frame",
]
