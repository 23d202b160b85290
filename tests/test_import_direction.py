"""Layers point one way (STYLE.md, Shape): a test reads every import and checks its direction."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Only these modules wire the layers together.
WIRING = {"peppasync.runtime", "peppasync.engine", "peppasync.demo", "peppasync.demo_bto", "peppasync.bench"}
WIRING_PACKAGES = ("peppasync.cli", "peppasync.http", "peppasync.bench")


def _modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        imports: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imports.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imports.add(node.module)
        found[name] = imports
    return found


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _offenders(package: str, forbidden: tuple[str, ...], allowed=lambda module: False) -> list[tuple[str, str]]:
    return [
        (module, imported)
        for module, imports in _modules(package).items()
        if not allowed(module)
        for imported in imports
        if _top(imported) in forbidden
    ]


def test_the_foundation_imports_neither_actors_nor_supervisors():
    wiring = lambda module: module in WIRING or module.startswith(WIRING_PACKAGES)  # noqa: E731

    assert _offenders("peppasync", ("actors", "supervisors"), wiring) == []


def test_actors_never_import_supervisors():
    assert _offenders("actors", ("supervisors",)) == []


def test_supervisors_never_import_concrete_actors():
    assert _offenders("supervisors", ("actors",)) == []


def test_peewee_lives_only_behind_the_store():
    offenders = [
        (module, imported)
        for package in ("peppasync", "actors", "supervisors")
        for module, imports in _modules(package).items()
        if not module.startswith("peppasync.store")
        for imported in imports
        if _top(imported) in ("peewee", "playhouse")
    ]

    assert offenders == []


def test_the_check_sees_the_packages_it_guards():
    modules = _modules("peppasync")

    assert "peppasync.config" in modules and "peppasync.errors" in modules
