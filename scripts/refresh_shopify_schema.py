from gevent import monkey

monkey.patch_all()

# Regenerate the Shopify Admin GraphQL schema Peppasync ships, from Shopify's own publication.
#
#     .venv/bin/python scripts/refresh_shopify_schema.py [--version 2026-10] [--package-version 1.16.0]
#                                                        [--tarball dev-mcp-1.16.0.tgz] [--out FILE]
#
# Shopify publishes the introspection of every Admin API version it supports in the npm package
# @shopify/dev-mcp (ISC licence), as dist/data/admin_<version>.json.gz. This downloads the package
# tarball from the npm registry (or reads --tarball, e.g. from `npm pack @shopify/dev-mcp@1.16.0`),
# checks it against the registry's sha512 integrity, and writes
# peppasync/contracts/shopify_admin_<version>.json.gz: the schema without descriptions, with the one
# adjustment graphql-core needs (peppasync.contracts.shopify.derive_admin_schema), and a "_source"
# header naming where it came from. Bumping the pinned version is then: run this with the new
# --version, set SHOPIFY_API_VERSION and the api_version defaults, run the tests.

import argparse
import base64
import gzip
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import requests
from graphql import build_client_schema, validate_schema

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from peppasync.contracts.shopify import derive_admin_schema, schema_file_name  # noqa: E402

PACKAGE = "@shopify/dev-mcp"
REGISTRY = "https://registry.npmjs.org"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the Shopify Admin GraphQL schema Peppasync ships.")
    parser.add_argument("--version", default="2026-10", help="Admin API version, e.g. 2026-10")
    parser.add_argument("--package-version", default="1.16.0", help=f"version of {PACKAGE} to read")
    parser.add_argument("--tarball", type=Path, help="a local package tarball instead of the registry's")
    parser.add_argument("--out", type=Path, help="where to write (default: the package data file)")
    args = parser.parse_args(argv)

    tarball, source_url, integrity = _tarball(args.package_version, args.tarball)
    member = f"package/dist/data/admin_{args.version}.json.gz"
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        try:
            published_gz = archive.extractfile(member).read()  # type: ignore[union-attr]
        except KeyError:
            shipped = sorted(n.rsplit("/", 1)[-1] for n in archive.getnames() if "/dist/data/admin_" in n)
            print(f"{PACKAGE}@{args.package_version} has no {member}; it ships: {', '.join(shipped)}",
                  file=sys.stderr)
            return 2

    data, adjusted = derive_admin_schema(json.loads(gzip.decompress(published_gz)))
    problems = validate_schema(build_client_schema(data))  # type: ignore[arg-type]
    if problems:
        print("the derived schema is still invalid for graphql-core:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem.message}", file=sys.stderr)
        return 1
    source = {
        "what": f"Shopify Admin GraphQL API {args.version}: Shopify's published introspection, "
                "descriptions removed",
        "package": f"{PACKAGE}@{args.package_version} (npm, ISC licence)",
        "file": member.removeprefix("package/"),
        "file_sha256": hashlib.sha256(published_gz).hexdigest(),
        "tarball": source_url,
        "tarball_integrity": integrity,
        "adjustment": "deprecation cleared on fields implementing a non-deprecated interface field, "
                      "which graphql-core's schema validation refuses: " + ", ".join(adjusted),
        "regenerate": f"scripts/refresh_shopify_schema.py --version {args.version} "
                      f"--package-version {args.package_version}",
    }
    out = args.out or ROOT / "peppasync" / "contracts" / schema_file_name(args.version)
    text = json.dumps({"_source": source, "data": data}, separators=(",", ":"), sort_keys=False)
    # mtime=0: the same input gives the same bytes, so an unchanged schema makes no diff.
    out.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
    kinds = len(data["__schema"]["types"])
    print(f"wrote {out} ({out.stat().st_size:,} bytes, {kinds:,} types) from {PACKAGE}@{args.package_version}")
    print(f"adjusted {len(adjusted)} field(s): {', '.join(adjusted) or 'none'}")
    return 0


def _tarball(version: str, local: Path | None) -> tuple[bytes, str, str]:
    """The package tarball, where it came from, and its sha512 integrity (checked against the registry's)."""
    if local is not None:
        body = local.read_bytes()
        name = f"{REGISTRY}/{PACKAGE}/-/{PACKAGE.split('/')[1]}-{version}.tgz (read from {local.name})"
        return body, name, "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode()
    meta = requests.get(f"{REGISTRY}/{PACKAGE}/{version}", timeout=30)
    meta.raise_for_status()
    dist: dict[str, Any] = meta.json()["dist"]
    response = requests.get(dist["tarball"], timeout=120)
    response.raise_for_status()
    body = response.content
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode()
    if integrity != dist["integrity"]:
        raise SystemExit(f"{dist['tarball']}: sha512 {integrity} does not match the registry's {dist['integrity']}")
    return body, dist["tarball"], integrity


if __name__ == "__main__":
    sys.exit(main())
