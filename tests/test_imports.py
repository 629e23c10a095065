"""Importing a module has no side effects, and no module writes the process environment.

``Settings`` (kodomo/settings.py) is the one place that reads the environment; configuration reaches
subprocesses through their own arguments or environment (dbt's ``--vars``, ``dagster dev``'s child env).
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kodomo", "ml", "app", "orchestration")
#: Scripts run by a tool, never imported: the Streamlit page script, alembic's environment and migrations.
SCRIPTS = ("app.main", "app.routes", "kodomo.migrations")


def source_files() -> list[Path]:
    return sorted(p for package in (*PACKAGES, "bench") for p in (ROOT / package).rglob("*.py"))


def module_names() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            if not any(name == s or name.startswith(f"{s}.") for s in SCRIPTS):
                names.append(name)
    return names


def third_party_imports() -> list[str]:
    """The top-level packages our modules import that are not ours."""
    found = set()
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return sorted(found - set(PACKAGES) - {"common", "train", "__future__"} - set(sys.stdlib_module_names))


def environ_writes(path: Path) -> list[str]:
    """``os.environ[...] = …``, ``del os.environ[...]``, ``os.environ.update(…)`` and the like, ``os.putenv``."""
    def is_environ(node) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ"

    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    writes = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        if any(isinstance(t, ast.Subscript) and is_environ(t.value) for t in targets):
            writes.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, owner = node.func.attr, node.func.value
            if (is_environ(owner) and method in {"update", "setdefault", "pop", "popitem", "clear", "__setitem__"}) \
                    or method in {"putenv", "unsetenv"}:
                writes.append(node.lineno)
    return [f"{where}:{line}" for line in sorted(writes)]


def test_no_module_writes_the_environment():
    assert [w for path in source_files() for w in environ_writes(path)] == []


def test_the_environment_check_finds_writes(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nos.environ['A'] = '1'\nos.environ.setdefault('B', '2')\nos.putenv('C', '3')\n"
                     "del os.environ['A']\nprint(os.environ.get('B'))\n")
    assert environ_writes(probe) == [f"{probe}:2", f"{probe}:3", f"{probe}:4", f"{probe}:5"]


IMPORT_EVERYTHING = """
import importlib, json, os, subprocess, sys
from pathlib import Path
modules, third_party, manifest = json.loads(sys.argv[1]), json.loads(sys.argv[2]), Path(sys.argv[3])
for name in third_party:  # what the libraries do when imported is theirs, and happens first
    try:
        importlib.import_module(name)
    except ImportError:
        pass
from great_expectations.execution_engine import pandas_execution_engine
import matplotlib
environ, threshold = dict(os.environ), pandas_execution_engine.HASH_THRESHOLD
backend = matplotlib.rcParams._get_backend_or_none()
manifest_mtime = manifest.stat().st_mtime_ns if manifest.exists() else None
started = []
original = subprocess.Popen.__init__
def record(self, args, *rest, **kwargs):
    started.append(str(args))
    original(self, args, *rest, **kwargs)
subprocess.Popen.__init__ = record
for name in modules:
    importlib.import_module(name)
changed = sorted(k for k in set(environ) | set(os.environ) if environ.get(k) != os.environ.get(k))
print(json.dumps({
    "environ": changed, "subprocesses": started,
    "gx_threshold": pandas_execution_engine.HASH_THRESHOLD == threshold,
    "matplotlib_backend": matplotlib.rcParams._get_backend_or_none() == backend,
    "manifest": (manifest.stat().st_mtime_ns if manifest.exists() else None) == manifest_mtime,
}))
"""


def test_importing_every_module_changes_nothing(tmp_path):
    modules = module_names()
    assert {"orchestration.definitions", "orchestration.defs.conform.assets", "ml.plots",
            "kodomo.quality"} <= set(modules)
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING, json.dumps(modules), json.dumps(third_party_imports()),
         str(ROOT / "dbt_project" / "target" / "manifest.json")],
        capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    effects = json.loads(done.stdout.splitlines()[-1])
    assert effects == {"environ": [], "subprocesses": [], "gx_threshold": True, "matplotlib_backend": True,
                       "manifest": True}
