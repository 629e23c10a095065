"""Intake risk model: labels (spec §7), point-in-time features, LightGBM with SHAP, calibration, MLflow registry.

The functions here read the warehouse tables ``valid.*`` / ``valid.*_versions`` and
``linkage.person_links``; they never read the generator's ground truth. All data is synthetic.
"""
