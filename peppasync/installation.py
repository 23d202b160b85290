"""Whether the installed ``actors`` and ``supervisors`` packages are still Peppasync's own.

The distribution installs three top-level packages: ``peppasync``, and the
card's ``actors`` and ``supervisors``. pip lets any other distribution install
files into a top-level package of the same name, silently overwriting ours, and
uninstalling that distribution later deletes the files it overwrote. So before
the server imports a line of either package, it checks that no other
distribution claims them and that every file pip recorded for them at install
time is there with the hash it had. An editable install or a source checkout
records no such files: the checkout is the owner, and only the claims are checked.
"""

from __future__ import annotations

import base64
import hashlib
from importlib import metadata
from pathlib import Path

from peppasync.errors import InstallationError

__all__ = ["DISTRIBUTION", "ENGINE_PACKAGES", "check_installation", "installation_problems"]

DISTRIBUTION = "peppasync"
ENGINE_PACKAGES = ("actors", "supervisors")
_REINSTALL = f"pip install --force-reinstall --no-deps {DISTRIBUTION}"


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def installation_problems() -> list[str]:
    """Every reason the installed engine packages may not be Peppasync's own; empty when they are."""
    problems = []
    owners = metadata.packages_distributions()
    for package in ENGINE_PACKAGES:
        for other in sorted({name for name in owners.get(package, []) if _normal(name) != DISTRIBUTION}):
            problems.append(
                f"the distribution {other!r} also installs a top-level package {package!r}, into Peppasync's: "
                f"pip uninstall {other}, then {_REINSTALL} (the uninstall deletes the files both installed)"
            )
    try:
        files = metadata.distribution(DISTRIBUTION).files or []
    except metadata.PackageNotFoundError:
        files = []  # a source tree on sys.path, not installed
    for file in files:
        if file.parts[0] not in ENGINE_PACKAGES or file.hash is None or file.hash.mode != "sha256":
            continue
        path = Path(file.locate())
        try:
            intact = _digest(path.read_bytes()) == file.hash.value
        except FileNotFoundError:
            problems.append(f"{file} was deleted since Peppasync was installed (by another distribution?): "
                            f"{_REINSTALL}")
            continue
        if not intact:
            problems.append(f"{file} was overwritten since Peppasync was installed (by another distribution?): "
                            f"{_REINSTALL}")
    return problems


def check_installation() -> None:
    """Raise ``InstallationError`` naming every problem ``installation_problems`` finds."""
    problems = installation_problems()
    if problems:
        raise InstallationError(problems)
