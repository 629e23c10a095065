"""What a prefecture's server runs on its own: the daily run and the run when a delivery lands."""
