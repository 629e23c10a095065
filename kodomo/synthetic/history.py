"""Per-child intervals of a state (an unmade-up checkup no-show, an overdue dose) counted at a moment."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Intervals:
    """``[start, end)`` minute intervals per child, stored child-sorted for fast lookups."""

    child: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def of(cls, child: np.ndarray, start: np.ndarray, end: np.ndarray) -> Intervals:
        order = np.argsort(child, kind="stable")
        return cls(np.asarray(child)[order], np.asarray(start)[order], np.asarray(end)[order])

    def count_at(self, child: int, minute: int) -> int:
        lo, hi = np.searchsorted(self.child, [child, child + 1])
        if lo == hi:
            return 0
        return int(np.count_nonzero((self.start[lo:hi] <= minute) & (self.end[lo:hi] > minute)))
