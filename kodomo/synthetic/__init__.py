"""The synthetic world generator behind ``kodomo generate``.

There is no real data: every landing folder the platform ever sees is made here, with the mess of
real deliveries and a ground truth that is exact. Entry point: :func:`generate`.
"""
from kodomo.synthetic.generate import generate

__all__ = ["generate"]
