"""Layers that only point down: the shared package ``motcua`` imports no package above it.

Every top-level package of this repository other than ``motcua`` (the daemons, the reports,
the demo, and any package added later) stands above it. The check reads the import statements
of every module with ``ast`` (imports inside functions count too), so nothing is executed.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = "motcua"


def top_level_packages(root: Path) -> set[str]:
    return {p.parent.name for p in root.glob("*/__init__.py")}


def imported_names(path: Path, package: str) -> set[str]:
    """The absolute module names a file imports (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _module_parts(path, package)[: -node.level]
                names.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                names.add(node.module)
    return names


def _module_parts(path: Path, package: str) -> list[str]:
    """``motcua/runtime/device.py`` -> ['motcua', 'runtime', 'device']."""
    rel = path.with_suffix("").parts
    return list(rel[rel.index(package):])


def crossings(root: Path, shared: str = SHARED) -> list[str]:
    """Every import in the shared package of a package above it, as 'module.py: imported.name'."""
    above = top_level_packages(root) - {shared}
    found = []
    for path in sorted((root / shared).rglob("*.py")):
        for name in sorted(imported_names(path, shared)):
            if name.split(".")[0] in above:
                found.append(f"{path.relative_to(root)}: {name}")
    return found


def test_the_shared_package_imports_no_daemon():
    assert "dispatcher" in top_level_packages(REPO) and "hall_demo" in top_level_packages(REPO)
    assert crossings(REPO) == []


def test_the_check_fails_when_a_shared_module_imports_a_daemon(tmp_path):
    (tmp_path / "motcua" / "runtime").mkdir(parents=True)
    (tmp_path / "dispatcher").mkdir()
    for package in ("motcua", "motcua/runtime", "dispatcher"):
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "motcua" / "fine.py").write_text("import json\nfrom .runtime import x\nfrom motcua import y\n")
    (tmp_path / "motcua" / "runtime" / "bad.py").write_text(
        "def later():\n    from dispatcher.hall import Hall\n    return Hall\n")
    (tmp_path / "motcua" / "worse.py").write_text("import dispatcher.store as store\n")
    assert crossings(tmp_path) == ["motcua/runtime/bad.py: dispatcher.hall", "motcua/worse.py: dispatcher.store"]
