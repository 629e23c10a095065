"""How a large world is cut into pieces that fit in memory, and how the pieces are run.

A world is simulated in shards of whole families (nothing that happens to one family depends on
another, so each shard is simulated on its own, with random streams of its own) and delivered in
groups of agencies (an agency's files are written by its group alone, each file whole and once, from
its events of every shard: a family moves anywhere in the region). Each piece runs in a process forked
from the one holding the world, which gives all of the piece's memory back when it ends.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from kodomo.synthetic.geography import Geography

T = TypeVar("T")
# A centre delivers reports, assessments and notices only: about a tenth of its jurisdiction's rows.
_CGC_SHARE = 0.1


def family_shards(family: np.ndarray, children_per_shard: int) -> list[tuple[int, int]]:
    """Runs ``(first, stop)`` of whole families holding about ``children_per_shard`` children each
    (``family``: the family of every child, sorted)."""
    n_shards = max(1, round(len(family) / children_per_shard))
    first_child = np.searchsorted(family, np.arange(int(family[-1]) + 2))
    bounds = np.unique(np.searchsorted(first_child, np.linspace(0, len(family), n_shards + 1)))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def agency_groups(geography: Geography, n_groups: int) -> list[list[int]]:
    """Agencies dealt into ``n_groups`` groups of about equal rows: each municipality (largest share of
    children first), then each centre, to the group with the fewest expected rows so far."""
    is_cgc = geography.is_cgc()
    if n_groups > np.count_nonzero(~is_cgc):
        raise ValueError(f"{n_groups} agency groups for {np.count_nonzero(~is_cgc)} municipalities: every group "
                         "needs a municipality, which delivers every feed")
    region = geography.region_places
    load = np.zeros(len(geography.agencies))
    load[geography.place_agency[region]] = geography.place_weight[region]
    np.add.at(load, geography.place_cgc[region], _CGC_SHARE * geography.place_weight[region])
    groups: list[list[int]] = [[] for _ in range(n_groups)]
    totals = np.zeros(n_groups)
    for agency in sorted(range(len(load)), key=lambda a: (is_cgc[a], -load[a], a)):
        lightest = int(np.argmin(totals))
        groups[lightest].append(agency)
        totals[lightest] += load[agency]
    return [sorted(group) for group in groups]


def run_forked(work: Callable[[int], T], tasks: Sequence[int], workers: int, scratch: Path) -> list[T]:
    """``work(task)`` for every task, each in a process forked from this one, at most ``workers`` at a time;
    the results in task order (passed back through pickles in ``scratch``)."""
    context = multiprocessing.get_context("fork")
    pending, running, results = list(tasks), {}, {}
    try:
        while pending or running:
            while pending and len(running) < workers:
                task = pending.pop(0)
                result_path = scratch / f"result-{task}.pkl"
                process = context.Process(target=_run_one, args=(work, task, result_path), daemon=True)
                process.start()
                running[process.sentinel] = (process, task, result_path)
            for sentinel in multiprocessing.connection.wait(list(running)):
                process, task, result_path = running.pop(sentinel)
                process.join()
                if process.exitcode != 0:
                    raise RuntimeError(f"piece {task} of the world failed (exit code {process.exitcode}): "
                                       "see its traceback above")
                with open(result_path, "rb") as source:
                    results[task] = pickle.load(source)
                result_path.unlink()
    finally:
        for process, _, _ in running.values():  # only after a failure: the other pieces are of no use
            process.terminate()
            process.join()
    return [results[task] for task in tasks]


def _run_one(work: Callable[[int], T], task: int, result_path: Path) -> None:
    result = work(task)
    with open(result_path, "wb") as out:
        pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
