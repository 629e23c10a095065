"""Temporal split of the labelled intakes: train on the oldest, validate and calibrate on a later slice,
test on the latest closed windows. Boundaries fall between days, so one day's intakes stay together."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TRAIN, VALID, TEST = "train", "valid", "test"


@dataclass(frozen=True)
class TemporalSplit:
    valid_from: pd.Timestamp  # first day of the validation / calibration slice
    test_from: pd.Timestamp  # first day of the test slice

    def assign(self, received_at: pd.Series) -> pd.Series:
        day = pd.to_datetime(received_at).dt.floor("D")
        return pd.Series(np.select([day >= self.test_from, day >= self.valid_from], [TEST, VALID], TRAIN),
                         index=received_at.index)

    def as_params(self) -> dict[str, str]:
        return {"valid_from": self.valid_from.date().isoformat(), "test_from": self.test_from.date().isoformat()}


def temporal_split(received_at: pd.Series, valid_fraction: float = 0.2, test_fraction: float = 0.2) -> TemporalSplit:
    """Day boundaries so that roughly the given fractions of intakes fall in the later slices."""
    days = pd.to_datetime(received_at).dt.floor("D").sort_values().reset_index(drop=True)

    def first_day_of_last(fraction: float) -> pd.Timestamp:
        # fraction 0: the slice starts after the last day (a backtest has no test slice of its own).
        position = int(len(days) * (1 - fraction))
        return days.iloc[position] if position < len(days) else days.iloc[-1] + pd.Timedelta(days=1)

    test_from = first_day_of_last(test_fraction)
    valid_from = first_day_of_last(test_fraction + valid_fraction)
    if not days.iloc[0] < valid_from < test_from:
        raise ValueError("too few days of labelled intakes for a temporal split")
    return TemporalSplit(valid_from=valid_from, test_from=test_from)
