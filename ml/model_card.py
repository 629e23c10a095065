"""The model card logged with every run (HTML): data, metrics with intervals, subgroups, use and limits."""
from __future__ import annotations

import html

import pandas as pd

from ml.evaluate import BOOTSTRAP_SAMPLES
from ml.fairness import INSUFFICIENT, FairnessLimits
from ml.labels import WINDOW_DAYS
from ml.pipeline import CALIBRATION, REVIEW_FRACTION, TrainingReport

SMALL_CELL = 10  # national statistics practice: no published cell below 10 people

INTENDED_USE = """
<p><strong>Decision support only — the worker decides.</strong> The score is shown to the caseworker
and supervisor at intake, next to the assessment, as the calibrated probability that the child is
reported again with a substantiated report or severe harm within a year, with the inputs that raised it
most. It never decides protection, never closes a case and never lowers the urgency a worker sees in
the assessment. Intakes above the review threshold are suggested for a second look by a senior worker.</p>
<p>Not intended for: screening families who have not been reported, ranking agencies or workers,
allocating budgets, or any use outside intake review.</p>"""

KNOWN_LIMITS = """
<ul>
<li><strong>All data is synthetic</strong> (<code>kodomo generate</code>): figures describe the simulated world,
not Japanese practice. Before any real use the model must be re-validated on real, governed data.</li>
<li>The outcome is what the system recorded (substantiated re-reports, severe harm), not maltreatment
itself: children who are not re-reported, or whose reports are never substantiated, count as 0.</li>
<li>History is only what agencies delivered and linked. A linkage error merges or splits children and
changes their history; records not yet delivered at intake are invisible to the score.</li>
<li>Assessment items recorded as <code>unknown</code> carry less information; a sparse assessment gives a
less informative score.</li>
<li>Subgroups with fewer than 10 intakes or too few outcomes are not evaluated; prefecture and agency
comparisons are limited to what the test slice holds.</li>
<li>The model is trained on older intakes and tested on the latest closed year; practice changes
(new routes, new items) need retraining and a new comparison against the champion.</li>
<li>Histories lengthen as the records age. The history margin lets each further past event keep raising the
risk beyond the longest history seen in training (trees alone are flat there: a backtest trained on two years of
closed windows under-predicted the next three years by about 4 points, ECE 0.042; with the margin 1.7 points,
ECE 0.023), but only at the log-linear rate learned on the shorter histories. Retrain regularly.</li>
<li>Children are linked across agencies with every record delivered so far, so a backtest's history of a child
may rest on a link that a later record made; the events counted are still only those known at receipt.</li>
<li>Overdue immunizations are judged from the standard schedule (the dbt seed) against records from the day the
immunization records begin; doses given outside the delivering municipalities look missed.</li>
</ul>"""


def _estimate_cell(e) -> str:
    return f"{e.value:.3f} <small>[{e.low:.3f}, {e.high:.3f}]</small>"


def _metrics_table(report: TrainingReport) -> str:
    columns = ("auc", "average_precision", "brier", "ece")
    rows = []
    for score, metrics in report.metrics.items():
        cells = "".join(f"<td>{_estimate_cell(metrics[c]) if c in metrics else '—'}</td>" for c in columns)
        rows.append(f"<tr><th>{html.escape(score)}</th>{cells}</tr>")
    head = "".join(f"<th>{c}</th>" for c in columns)
    return f"<table><tr><th>score</th>{head}</tr>{''.join(rows)}</table>"


def _comparisons_table(report: TrainingReport) -> str:
    rows = "".join(f"<tr><th>{html.escape(name.replace('_minus_', ' − '))}</th><td>{_estimate_cell(e)}</td></tr>"
                   for name, e in report.comparisons.items())
    return f"<table><tr><th>AUC difference</th><th>value [95 % CI]</th></tr>{rows}</table>"


def _counts_table(report: TrainingReport) -> str:
    counts = report.counts.copy()
    counts["outcome_rate"] = counts["positives"] / counts["intakes"]
    return counts.to_html(float_format=lambda v: f"{v:.3f}", border=0)


def subgroup_display(fairness: pd.DataFrame) -> pd.DataFrame:
    """The subgroup table as published: small cells suppressed, insufficient groups not computed."""
    shown = fairness.copy()
    for column in ("auc", "ece", "fpr", "fnr"):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    small = shown["n"] < SMALL_CELL
    shown["n"] = shown["n"].astype(str).where(~small, f"<{SMALL_CELL}")
    shown["positives"] = shown["positives"].astype(str).where(~small, "—")
    shown.loc[shown["status"] == INSUFFICIENT, ["auc", "ece", "fpr", "fnr"]] = "insufficient"
    return shown.drop(columns="status")


def render_model_card(report: TrainingReport, version: str, run_id: str, decision: str = "pending",
                      limits: FairnessLimits = FairnessLimits()) -> str:
    importance = report.importance.head(15).to_frame("mean |SHAP|").to_html(float_format=lambda v: f"{v:.3f}", border=0)
    fit = report.lightgbm
    chosen = {k: fit.params[k] for k in ("num_leaves", "min_child_samples", "learning_rate")}
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>child_risk v{html.escape(version)} — model card</title>
<style>body{{font-family:sans-serif;max-width:980px;margin:2em auto;line-height:1.4}}
table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
.banner{{background:#fff3cd;border:1px solid #e0c068;padding:.6em 1em}}</style></head><body>
<h1>Model card: <code>child_risk</code> version {html.escape(version)}</h1>
<p class="banner"><strong>All data is synthetic.</strong> It was generated by <code>kodomo generate</code>;
no real child, family or agency is described. MLflow run <code>{html.escape(run_id)}</code>;
promotion: {html.escape(decision)}.</p>

<h2>Intended use</h2>{INTENDED_USE}

<h2>Outcome</h2>
<p>For an intake report received at <em>t</em>: 1 when the child, linked across all agencies, has another
report within {WINDOW_DAYS} days after <em>t</em> that is substantiated, or a report with severe harm
(source-feeds.md §7). Only intakes whose window closed before the data's end ({report.data_end}) are labelled.</p>

<h2>Data</h2>
<p>Synthetic intake reports, split in time: trained on the oldest, validated and calibrated on a later slice
(from {report.split.valid_from.date()}), tested on the latest closed windows (from {report.split.test_from.date()}).</p>
{_counts_table(report)}
<p>Inputs (as known at receipt): the intake assessment items (<code>unknown</code> kept as its own value), route
and abuse types as first recorded, the child's age, and the linked history across agencies — prior reports
(1 year, 2 years, all on record) and the agencies they came from, prior substantiated reports, protections and
severe harm known by then, moves (2 years, all), missed checkups not made up, overdue immunizations, open
moved/missing notices.</p>

<h2>Model</h2>
<p>LightGBM {html.escape(str(chosen))}, {fit.rounds} rounds (rounds by grouped 3-fold CV inside training,
configuration by validation AUC), boosted from a history margin: a logistic term in log(1 + count) of each
history count, so that a longer history than any seen in training keeps raising the risk (trees alone are flat
beyond their last split). {CALIBRATION} calibration on the validation slice. Review threshold: probability
≥ {report.model.review_threshold:.3f} (the top {REVIEW_FRACTION:.0%} of the calibration slice).
When drift is found, this version can be <em>recalibrated</em> (<code>ml.recalibration</code>, from the model
page): its trees and margin kept, only the calibrator and review threshold refitted on the earlier part of the
intakes whose outcome window closed since its test slice began, and the result registered as a new version (tagged
<code>recalibration.of</code> and <code>recalibration.window</code>). That version is judged by the same promotion
gate against this one on the later part of that window, which neither was fitted on, and becomes champion only if
it passes (or by the audited override).
Baselines: the urgency assessment sheet's rule (一時保護決定に向けてのアセスメントシート) and logistic regression
(C = {report.logistic_c}).</p>

<h2>Test-slice metrics</h2>
<p>95 % intervals from a bootstrap over children ({len(report.test)} intakes; {BOOTSTRAP_SAMPLES} resamples of
children, all of a child's intakes together), each by the method that suits the metric.
AUC, average precision and the Brier score: the percentile interval (the Brier score is a mean and AUC a
U-statistic: their bootstrap is centred on them). ECE: the plug-in ECE is biased upwards (a calibrated model on
1,500 intakes shows about 0.015 from noise alone), so the table gives the <em>bias-corrected</em> ECE (plug-in
minus the bootstrap's estimate of its bias, at least 0) with the bias-corrected interval (the bootstrap
percentiles shifted down by twice that bias), whose lower end is 0 when the plug-in ECE is no larger than a
calibrated model's would be (97.5th percentile of the ECE of outcomes drawn from the probabilities themselves).
On simulations this interval covers the true ECE at about the nominal rate, where the percentile interval of the
plug-in ECE never covers a calibrated model's 0. The promotion gate compares the plug-in ECE with its limit
(stricter). AUC differences: paired percentile intervals over the same resamples.
<code>lightgbm_within_agency</code> is the same model with history from the intake's own agency only.</p>
{_metrics_table(report)}
{_comparisons_table(report)}

<h2>Subgroups</h2>
<p>At the review threshold, by age band, agency type, prefecture and the household items. <strong>The subgroup
gate</strong>, for groups of ≥ {limits.min_gate_n} intakes with ≥ {limits.min_gate_class} of each outcome
(smaller groups are reported, never gating: their noise is of the order of the limits):</p>
<ul>
<li>absolute: ECE ≤ {limits.max_ece} within the group, since the probability shown must mean the same for
every group;</li>
<li>relative: no gap to the whole slice (AUC below it, FPR or FNR away from it) wider than the same gap of this
run's own logistic regression, on the same intakes at the same share flagged, by more than
{limits.max_auc_gap_widening} AUC or {limits.max_error_rate_gap_widening} FPR/FNR (a widening exactly at the
limit passes).</li>
</ul>
<p>Why relative: some gaps are in the data, not the model — infants cannot tell what happened and have little
history, so even the generator's true risk ranks them worse, and a group with a lower base rate has a higher FNR
at one threshold under any calibrated score. An absolute limit on the gap would block the best possible model.
Why against the run's baseline and not the champion: the champion's gaps were themselves allowed to exceed its
baseline's, so a gate relative to the previous model would let each generation widen a gap a little more; the
baseline is fitted on the same data, and so shows what gap the data hold. Cells under {SMALL_CELL} are
suppressed.</p>
{subgroup_display(report.fairness).to_html(index=False, border=0)}
<p>Against the logistic baseline: {html.escape("; ".join(report.fairness_problems) or "no gap beyond the limits")}.</p>

<h2>Most influential inputs</h2>
{importance}

<h2>Known limits</h2>{KNOWN_LIMITS}
</body></html>
"""
