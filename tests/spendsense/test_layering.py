"""Dependencies point down: the kernel imports nothing above it, the services import the
kernel (and the API the components it drives), and only the local tooling on top
(``devstack``, ``bench``) may import everything.

Every import counts, inside functions and ``TYPE_CHECKING`` blocks too: a deferred import
is still an edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

KERNEL = "spendsense"
COMPONENTS = {"ingest", "detector", "actions"}
ALLOWED: dict[str, set[str]] = {
    KERNEL: set(),
    **{c: {KERNEL} for c in COMPONENTS},
    # the sandbox AWS account: a stand-in for AWS, it knows only the kernel's shapes
    "sandbox": {KERNEL},
    # the API drives the components (stops, role documents) and reads the demo's mail log
    "api": {KERNEL, "ingest", "actions", "sandbox"},
    "projector": {KERNEL},
    "devstack": {KERNEL, *COMPONENTS, "sandbox", "api", "projector"},
    "bench": {KERNEL, *COMPONENTS, "sandbox", "api", "projector", "devstack"},
}
PACKAGES = set(ALLOWED)


def imported_packages(path: Path) -> set[str]:
    """The project's top-level packages that ``path`` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
    return found & PACKAGES


def upward_edges() -> list[str]:
    """Every ``file -> package`` import that the layering does not allow."""
    faults = []
    for package, allowed in sorted(ALLOWED.items()):
        for path in sorted((ROOT / package).rglob("*.py")):
            for target in sorted(imported_packages(path) - allowed - {package}):
                faults.append(f"{path.relative_to(ROOT)} -> {target}")
    return faults


def test_dependencies_point_down() -> None:
    assert upward_edges() == []


def test_the_walk_sees_deferred_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from sandbox.fleet import load_fleet\n    import api.main\n")
    assert imported_packages(module) == {"sandbox", "api"}


def test_every_package_is_placed() -> None:
    """A new top-level package must say where it sits before it can import anything."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages == PACKAGES
