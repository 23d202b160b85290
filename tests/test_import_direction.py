"""Layers point one way (STYLE.md, Shape): a test reads every import and checks its direction."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Only these modules wire the layers together.
WIRING = {"peppasync.runtime", "peppasync.engine", "peppasync.demo", "peppasync.bench"}
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


def test_the_foundation_imports_neither_actors_nor_supervisors():
    offenders = [
        (module, imported)
        for module, imports in _modules("peppasync").items()
        if module not in WIRING and not module.startswith(WIRING_PACKAGES)
        for imported in imports
        if _top(imported) in ("actors", "supervisors")
    ]

    assert offenders == []


def test_actors_never_import_supervisors():
    offenders = [
        (module, imported)
        for module, imports in _modules("actors").items()
        for imported in imports
        if _top(imported) == "supervisors"
    ]

    assert offenders == []


def test_supervisors_never_import_concrete_actors():
    offenders = [
        (module, imported)
        for module, imports in _modules("supervisors").items()
        for imported in imports
        if _top(imported) == "actors"
    ]

    assert offenders == []


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
