"""Record linkage: one child across agencies, from names, kana, birth date, sex and place history."""
from kodomo.linkage.pipeline import LinkageSummary, export_links, link_children

__all__ = ["LinkageSummary", "export_links", "link_children"]
