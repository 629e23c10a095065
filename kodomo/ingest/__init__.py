"""Contract-driven ingestion of a landing folder: read, validate, quarantine, version, load."""
from kodomo.ingest.feed import FeedLoad, load_feed
from kodomo.ingest.landing import LandingError, feed_files

__all__ = ["FeedLoad", "LandingError", "feed_files", "load_feed"]
