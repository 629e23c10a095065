from orchestration.defs.ml.assets import ml_assets

__all__ = ["ml_assets"]
