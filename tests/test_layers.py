"""Imports point one way (docs/architecture.md §2): {perception, sampling, selection, llm} < fep_motion < experiments
< cli, with the shared helpers (yamlconf, tty_progress) at the bottom. Every module's imports, including those inside
functions and literal importlib.import_module calls, are read with `ast`; a module that imports a higher layer fails
the test with its file and line."""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS: dict[str, int] = {
    "perception": 0, "sampling": 0, "selection": 0, "llm": 0, "yamlconf": 0, "tty_progress": 0,
    "fep_motion": 1,
    "experiments": 2,
    "cli": 3,
}


@dataclass(frozen=True)
class Violation:
    """`path`:`line` (in package `importer`) imports `imported`, a module of a higher layer."""

    path: Path
    line: int
    importer: str
    imported: str

    def __str__(self) -> str:
        return (f"{self.path}:{self.line}: {self.importer} (layer {LAYERS[self.importer]}) imports {self.imported} "
                f"(layer {LAYERS[self.imported.split('.')[0]]})")


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the tree; relative imports stay in their package, skipped."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
              and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def violations(root: Path, layers: dict[str, int] = LAYERS) -> list[Violation]:
    """Every import under root/<package> of a package in a higher layer than the importing one."""
    out: list[Violation] = []
    for package, level in layers.items():
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, name in imported_modules(tree):
                top = name.split(".")[0]
                if layers.get(top, -1) > level:
                    out.append(Violation(path.relative_to(root), line, package, name))
    return out


def test_no_module_imports_a_higher_layer():
    found = violations(ROOT)
    assert not found, "imports against the layer order:\n" + "\n".join(map(str, found))


def test_every_layer_package_exists_and_is_scanned():
    for package in LAYERS:
        assert (ROOT / package / "__init__.py").is_file(), package


def test_checker_reports_a_violation_inside_a_function_and_via_import_module(tmp_path):
    (tmp_path / "fep_motion").mkdir()
    (tmp_path / "fep_motion" / "ok.py").write_text("import numpy\nfrom perception.types import Observation\n")
    (tmp_path / "fep_motion" / "bad.py").write_text(
        "import os\n\n\ndef run():\n    from experiments.simulate import simulate_study\n    return simulate_study\n")
    (tmp_path / "llm").mkdir()
    (tmp_path / "llm" / "sneaky.py").write_text("import importlib\nmod = importlib.import_module('cli.demo')\n")
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "top.py").write_text("import experiments\nimport fep_motion.store\n")  # allowed: above all
    layers = {"llm": 0, "fep_motion": 1, "cli": 3, "experiments": 2}
    for package in layers:
        (tmp_path / package).mkdir(exist_ok=True)
    found = violations(tmp_path, layers)
    assert [(str(v.path), v.line, v.imported) for v in found] == [
        ("llm/sneaky.py", 2, "cli.demo"), ("fep_motion/bad.py", 5, "experiments.simulate")]
    assert "fep_motion/bad.py:5" in str(found[1]) and "layer 1" in str(found[1])


# Modules above the store that own tables and so may run SQL on `store.conn` (docs/architecture.md §4).
SQL_OWNERS: frozenset[str] = frozenset({"experiments/study_store.py", "experiments/schema.py"})


def raw_sql_uses(root: Path, packages: tuple[str, ...] = ("experiments", "cli")) -> list[str]:
    """`path:line` of every `.conn` attribute read outside SQL_OWNERS: session tables are read through Store."""
    out: list[str] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel in SQL_OWNERS:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            out += [f"{rel}:{n.lineno}" for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "conn"]
    return out


def test_experiments_and_cli_run_sql_only_in_the_modules_that_own_the_tables(tmp_path):
    assert raw_sql_uses(ROOT) == []
    (tmp_path / "experiments" / "analysis").mkdir(parents=True)
    (tmp_path / "experiments" / "study_store.py").write_text("def f(store):\n    return store.conn.execute('x')\n")
    (tmp_path / "experiments" / "analysis" / "raw.py").write_text("def f(store):\n    return store.conn.execute('x')\n")
    assert raw_sql_uses(tmp_path, ("experiments",)) == ["experiments/analysis/raw.py:2"]
