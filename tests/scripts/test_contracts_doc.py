import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _page() -> str:
    spec = importlib.util.spec_from_file_location("contracts_doc", ROOT / "scripts" / "contracts_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.page())


def test_the_contracts_page_is_rendered_from_the_contract_files_as_they_are_now():
    page = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")

    assert page == _page(), "docs/contracts.md is stale: run .venv/bin/python scripts/contracts_doc.py"


def test_every_field_and_operation_on_the_contracts_page_names_its_source():
    rows = [line for line in _page().splitlines()
            if line.startswith("| ") and not line.startswith(("| body", "| operation"))]

    assert len(rows) > 50 and all(line.rstrip(" |").rsplit("| ", 1)[-1].startswith("https://") for line in rows)


def test_every_graphql_operation_the_engine_sends_is_on_the_page():
    page = _page()

    for operation in ("OrdersUpdatedSince", "OrderForSync", "FulfillmentCreate", "SetAvailable"):
        assert f"| {operation} |" in page
