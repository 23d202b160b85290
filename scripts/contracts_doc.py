"""Write docs/contracts.md from the contract files in peppasync/contracts/."""

from pathlib import Path

from peppasync.contracts.docs import render

if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "docs" / "contracts.md"
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
