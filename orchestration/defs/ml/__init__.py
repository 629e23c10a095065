"""The risk model's Dagster assets (``assets``) and the retraining the model page starts (``retraining``)."""


def __getattr__(name: str):
    # ``ml_assets`` on first use: the app imports ``retraining`` from here, and should not load Dagster's dbt
    # integration (seconds) with it.
    if name == "ml_assets":
        from orchestration.defs.ml.assets import ml_assets

        return ml_assets
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ml_assets"]
