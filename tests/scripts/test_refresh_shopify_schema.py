"""scripts/refresh_shopify_schema.py turns Shopify's published package into the schema file Peppasync ships."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from graphql import build_client_schema, build_schema, introspection_from_schema

ROOT = Path(__file__).resolve().parents[2]

# Shaped like Shopify's: an object deprecates a field its interface does not.
SDL = '''
interface Node { id: ID! }
"An order."
type Order implements Node { id: ID! @deprecated(reason: "use legacyResourceId") legacyResourceId: String }
type QueryRoot { order(id: ID!): Order }
schema { query: QueryRoot }
'''


def _package(tmp_path: Path, version: str) -> tuple[Path, bytes]:
    published = gzip.compress(json.dumps({"data": introspection_from_schema(build_schema(SDL, assume_valid=True)),
                                          "offline_scopes": {}}).encode())
    tarball = tmp_path / "dev-mcp-9.9.9.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        member = tarfile.TarInfo(f"package/dist/data/admin_{version}.json.gz")
        member.size = len(published)
        archive.addfile(member, io.BytesIO(published))
    return tarball, published


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "refresh_shopify_schema.py"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_the_script_writes_the_schema_with_its_source_and_the_adjustment_it_made(tmp_path: Path) -> None:
    tarball, published = _package(tmp_path, "2027-01")
    out = tmp_path / "shopify_admin_2027-01.json.gz"

    done = _run("--version", "2027-01", "--package-version", "9.9.9", "--tarball", str(tarball), "--out", str(out))

    assert done.returncode == 0, done.stderr
    assert "adjusted 1 field(s): Order.id" in done.stdout
    written = json.loads(gzip.decompress(out.read_bytes()))
    assert list(written) == ["_source", "data"]  # the header comes first
    assert written["_source"]["package"] == "@shopify/dev-mcp@9.9.9 (npm, ISC licence)"
    assert written["_source"]["file"] == "dist/data/admin_2027-01.json.gz"
    assert written["_source"]["file_sha256"] == hashlib.sha256(published).hexdigest()
    assert written["_source"]["adjustment"].endswith(": Order.id")
    assert build_client_schema(written["data"]).get_type("Order").description is None  # type: ignore[union-attr]


def test_the_same_package_gives_the_same_bytes(tmp_path: Path) -> None:
    tarball, _ = _package(tmp_path, "2027-01")
    first, second = tmp_path / "a.json.gz", tmp_path / "b.json.gz"

    _run("--version", "2027-01", "--tarball", str(tarball), "--out", str(first))
    _run("--version", "2027-01", "--tarball", str(tarball), "--out", str(second))

    assert first.read_bytes() == second.read_bytes()


def test_a_version_the_package_does_not_ship_is_refused_naming_those_it_does(tmp_path: Path) -> None:
    tarball, _ = _package(tmp_path, "2027-01")

    done = _run("--version", "2031-01", "--tarball", str(tarball), "--out", str(tmp_path / "x.json.gz"))

    assert done.returncode == 2
    assert "no package/dist/data/admin_2031-01.json.gz" in done.stderr
    assert "admin_2027-01.json.gz" in done.stderr
    assert not (tmp_path / "x.json.gz").exists()
