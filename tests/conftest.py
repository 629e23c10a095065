"""Shared helpers: hand-made landing folders, small enough to reason about row by row."""
from __future__ import annotations

import contextlib
import csv
import io
import shutil
import sqlite3
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
AGENCIES = [
    {"agency_id": "111007", "agency_type": "municipality", "name": "さいたま市", "prefecture_code": "11",
     "cgc_id": "C1101"},
    {"agency_id": "131016", "agency_type": "municipality", "name": "千代田区", "prefecture_code": "13",
     "cgc_id": "C1301"},
    {"agency_id": "C1101", "agency_type": "cgc", "name": "中央児童相談所", "prefecture_code": "11", "cgc_id": ""},
    {"agency_id": "C1301", "agency_type": "cgc", "name": "東京都児童相談センター", "prefecture_code": "13",
     "cgc_id": ""},
]


@pytest.fixture(autouse=True)
def _main_module_restored():
    """Streamlit's AppTest leaves its page script as the process's ``__main__``, which every process spawned later
    (the ingestion's workers) would run first: each test gets the ``__main__`` it started with back."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def report_row(**overrides) -> dict:
    row = {
        "agency_id": "111007", "updated_at": "2021-05-01 09:00", "local_child_id": "A001",
        "child_name": "髙橋 太郎", "child_kana": "タカハシ タロウ", "sex": "1", "birth_date": "H30.1.2",
        "report_id": "R001", "address_municipality_code": "111007", "received_at": "令和3年4月1日 10:00",
        "route": "police", "abuse_types": "physical;neglect", "safety_confirmed_at": "2021/4/2 15:00",
        "substantiated": "undetermined", "temporary_protection": "no", "temporary_protection_at": "",
        "severe_harm": "no",
    }
    row.update(overrides)
    return row


def csv_bytes(rows: list[dict], encoding: str = "utf-8", newline: str = "\n", header: list[str] | None = None) -> bytes:
    header = header or list(rows[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return out.getvalue().encode(encoding)


class LandingBuilder:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "agencies.csv").write_bytes(csv_bytes(AGENCIES))

    def deliver(self, feed: str, name: str, rows: list[dict], **fmt) -> Path:
        folder = self.root / feed
        folder.mkdir(exist_ok=True)
        path = folder / name
        path.write_bytes(csv_bytes(rows, **fmt))
        return path


@pytest.fixture
def landing(tmp_path) -> LandingBuilder:
    return LandingBuilder(tmp_path / "landing")


@pytest.fixture
def scratch_postgres_url():
    """A fresh database on the local PostgreSQL (trust auth), dropped afterwards."""
    name = f"kodomo_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as con:
        con.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as con:
        con.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))

def copy_home(source: Path, home: Path) -> None:
    """A copy of a built home whose MLflow store points at the copy's artifacts: a test that registers versions, moves
    aliases or republishes works on it, and the session's world stays as the other tests read it."""
    source = Path(source).resolve()
    shutil.copytree(source, home, ignore=shutil.ignore_patterns("run.lock", "build"))
    with contextlib.closing(sqlite3.connect(home / "mlflow" / "mlflow.db")) as con:
        tables = [name for (name,) in con.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            for column in [c[1] for c in con.execute(f"pragma table_info('{table}')")
                           if c[2].upper() == "TEXT" or c[2].upper().startswith("VARCHAR")]:
                con.execute(f'update "{table}" set "{column}" = replace("{column}", ?, ?) where "{column}" like ?',
                            [str(source), str(home), f"%{source}%"])
        con.commit()


@pytest.fixture(scope="session")
def scored_world(tmp_path_factory) -> dict:
    """A generated `small` world (seed 5) built, trained, promoted and scored as `kodomo run` does, once per session:
    the app's pages and the live scoring path both read it. Keys: root, landing, home."""
    import duckdb

    from kodomo.cli import main
    from kodomo.settings import get_settings
    from ml.lifecycle import (build_label_table, promote_challenger, score_open_intakes, train_and_register,
                              write_model_drift)
    from ml.promotion import GateLimits
    from orchestration.runner import build_platform

    root = tmp_path_factory.mktemp("scoredworld")
    landing, home = root / "landing", root / "home"
    assert main(["generate", "--out", str(landing), "--scale", "small", "--seed", "5"]) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(home))
        mp.setenv("KODOMO_ENV", "local")
        settings = get_settings()
        build_platform(settings, landing)
        with duckdb.connect(str(settings.warehouse_path)) as con:
            build_label_table(con)
            train_and_register(con, settings)
            # A small world's test slice is too noisy for the production ECE limit (as in test_ml_end_to_end).
            assert promote_challenger(con, settings, GateLimits(max_ece=0.15)).promote
            score_open_intakes(con, settings)
            write_model_drift(con, settings)
    return {"root": root, "landing": landing, "home": home}
