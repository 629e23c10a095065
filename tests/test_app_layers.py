"""The app reads the published marts and the model's scores only: never the delivered records or the model's inputs."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from app import i18n
from kodomo.appdata import intakes, warehouse

ROOT = Path(__file__).resolve().parent.parent
# The pages and the read layer under them.
APP_MODULES = [*ROOT.joinpath("app").rglob("*.py"), *ROOT.joinpath("kodomo", "appdata").rglob("*.py")]
# Delivered rows (raw, valid and their versions), quarantined rows with their raw text, the linkage's search layer
# with names, and the model's former input tables.
FORBIDDEN = re.compile(r"\b(raw|valid|quarantine|staging|intermediate|linkage)\.\w+|\bml\.features\w*", re.I)


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def _offending(path: Path) -> list[str]:
    return [f"{path.name}:{line}: {FORBIDDEN.search(text).group(0)}" for line, text in _strings(path)
            if FORBIDDEN.search(text)]


def test_no_app_module_imports_streamlit_below_the_pages():
    below = ROOT.joinpath("kodomo", "appdata").rglob("*.py")
    assert [p.name for p in below if "streamlit" in p.read_text(encoding="utf-8")] == []


def test_no_app_module_queries_delivered_records_or_model_inputs():
    modules = sorted(APP_MODULES)
    assert len(modules) >= 8
    assert [hit for module in modules for hit in _offending(module)] == []


def test_the_check_finds_a_query_of_a_valid_table(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('SQL = "select * from valid.case_reports_versions"\nOTHER = f"from ml.features where x"\n')
    assert _offending(bad) == ["bad.py:1: valid.case_reports_versions", "bad.py:2: ml.features"]


def test_the_read_layer_reads_marts_and_scores():
    assert intakes.INTAKE_FEATURES.startswith("marts.") and intakes.AGENCIES.startswith("marts.")
    assert intakes.INTAKE_SCORES == "ml.intake_scores"


def test_a_missing_warehouse_is_unavailable_not_a_duckdb_error(tmp_path):
    with pytest.raises(warehouse.WarehouseUnavailable), warehouse.read_only(tmp_path / "warehouse.duckdb"):
        pass


@pytest.mark.parametrize("value", ["[x](http://evil.example)", "![i](http://x/y.png)", "**bold** _it_",
                                   "=HYPERLINK(\"http://x\")", "<script>", "2089CA000028"])
def test_ids_in_markdown_are_literal_text(value):
    escaped = i18n.literal(value)
    assert re.sub(r"\\(.)", r"\1", escaped) == value  # nothing lost
    assert not re.search(r"(?<!\\)[\[\]()*_<>!]", escaped)  # no unescaped Markdown character left
