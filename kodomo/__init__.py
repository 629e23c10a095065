"""Kodomo: data platform and ML pipeline for child-welfare and child-health services.

Everything in this repository runs on synthetic data made by ``kodomo generate``.
"""
