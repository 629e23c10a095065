"""Municipality and agency codes (全国地方公共団体コード)."""
from __future__ import annotations

import re

_CHECK_WEIGHTS = (6, 5, 4, 3, 2)
_CGC_ID = re.compile(r"C\d{4}")


def municipality_check_digit(first_five: str) -> int:
    remainder = sum(int(d) * w for d, w in zip(first_five, _CHECK_WEIGHTS, strict=True)) % 11
    return (11 - remainder) % 10


def is_municipality_code(code: str) -> bool:
    return len(code) == 6 and code.isascii() and code.isdigit() and municipality_check_digit(code[:5]) == int(code[5])


def with_check_digit(first_five: str) -> str:
    return first_five + str(municipality_check_digit(first_five))


def is_agency_id(agency_id: str) -> bool:
    """A municipality code, or ``C`` + 2-digit prefecture + 2-digit number for a CGC."""
    return is_municipality_code(agency_id) or bool(_CGC_ID.fullmatch(agency_id))
