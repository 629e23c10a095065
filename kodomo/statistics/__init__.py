"""The managers' statistics: the cells of ``marts.statistics_cells`` published with small cells withheld
(``suppression``: primary and complementary), as the app shows them and ``kodomo export-stats`` writes them."""
