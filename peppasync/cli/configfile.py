"""Whether a configuration file is kept as secrets should be."""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from peppasync.redact import is_secret_name

__all__ = ["Exposure", "exposure"]


@dataclass(frozen=True)
class Exposure:
    """A configuration file that holds secrets where users other than the service can read them."""

    path: Path
    mode: int
    secrets: tuple[str, ...]

    @property
    def fix(self) -> str:
        return (f"chmod 600 {self.path} (640 when the service reads it through its group),"
                " or move the secrets to the environment file")

    def __str__(self) -> str:
        return (f"{self.path} holds secrets ({', '.join(self.secrets)}) and users other than its owner"
                f" can read it (mode {self.mode:04o}): {self.fix}")


def exposure(path: Path, *, gid: int | None = None) -> Exposure | None:
    """The file's exposure, or None when it holds no secret or only its owner (and our group) may read it.

    Group permissions count only for a group other than ``gid`` (ours by
    default): ``root:peppasync`` mode 0640, read by the ``peppasync`` user, is
    how the service is meant to read its secrets.
    """
    try:
        st = path.stat()
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # loading the file reports why it cannot be read
    own_group = os.getegid() if gid is None else gid
    open_to = st.st_mode & 0o006 | (st.st_mode & 0o060 if st.st_gid != own_group else 0)
    if not open_to:
        return None
    secrets = tuple(_secret_keys(raw))
    if not secrets:
        return None
    return Exposure(path, stat.S_IMODE(st.st_mode), secrets)


def _secret_keys(raw: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for section, table in raw.items():
        if not isinstance(table, dict):
            continue
        for key, value in table.items():
            if not isinstance(value, str) or not value.strip():
                continue
            if is_secret_name(key):
                found.append(f"{section}.{key}")
            elif "://" in value:
                try:
                    password = urlsplit(value).password
                except ValueError:
                    password = None
                if password:
                    found.append(f"{section}.{key}")
    return found
