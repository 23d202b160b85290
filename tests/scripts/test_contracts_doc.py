from pathlib import Path

from peppasync.contracts.docs import render

ROOT = Path(__file__).resolve().parents[2]


def test_the_contracts_page_is_rendered_from_the_contract_files_as_they_are_now():
    page = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")

    assert page == render(), "docs/contracts.md is stale: run .venv/bin/python scripts/contracts_doc.py"


def test_every_field_on_the_contracts_page_names_its_source():
    rows = [line for line in render().splitlines() if line.startswith("| ") and not line.startswith("| body")]

    assert rows and all(line.rstrip(" |").rsplit("| ", 1)[-1].startswith("https://") for line in rows)
