"""Which configuration file a command reads, and whether it is kept as secrets should be.

Every command that runs with the server's configuration (``serve``, ``migrate``,
``status``, ``quarantine ...``, ``connector ...``) finds it the same way:
``--config FILE``, else the file named by ``PEPPASYNC_CONFIG``, else
``/etc/peppasync/peppasync.toml`` when it exists. The working directory is
never searched: an operator's command must not pick up whichever
``peppasync.toml`` lies where they stand. With no file at all, the
configuration comes from ``PEPPASYNC_<SECTION>_<KEY>`` variables alone, and a
command that gets none is told where it looked.
"""

from __future__ import annotations

import argparse
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from peppasync.config import ENV_PREFIX, Config, load_config, parse_config
from peppasync.errors import ConfigError, ConfigProblem
from peppasync.redact import is_secret_name

__all__ = ["CONFIG_VARIABLE", "SYSTEM_CONFIG", "Exposure", "exposure", "find_config", "load_for"]

CONFIG_VARIABLE = "PEPPASYNC_CONFIG"
SYSTEM_CONFIG = "/etc/peppasync/peppasync.toml"


def find_config(given: str | None, environ: Mapping[str, str] | None = None) -> tuple[Path | None, str]:
    """The file to read and how it was chosen: ``--config``, ``PEPPASYNC_CONFIG``, the system file, or none.

    A file named by ``--config`` or the variable is returned even when it does
    not exist, so that loading it says so; the system file only when it exists.
    """
    env = os.environ if environ is None else environ
    if given:
        return Path(given), "--config"
    named = env.get(CONFIG_VARIABLE, "")
    if named:
        return Path(named), f"environment {CONFIG_VARIABLE}"
    if Path(SYSTEM_CONFIG).exists():
        return Path(SYSTEM_CONFIG), "default"
    return None, ""


def _looked() -> ConfigProblem:
    return ConfigProblem(
        "<no configuration file>", "",
        f"no --config FILE given, {CONFIG_VARIABLE} is not set, and {SYSTEM_CONFIG} does not exist",
    )


def load_for(
    args: argparse.Namespace, *, complete: bool = False, environ: Mapping[str, str] | None = None
) -> Config:
    """The configuration a command runs with (see the module); ``ConfigError`` naming every problem.

    ``complete`` requires every section and key a server needs (see
    ``peppasync.config.REQUIRED``).
    """
    env = os.environ if environ is None else environ
    path, how = find_config(getattr(args, "config", None), env)
    if path is not None:
        try:
            return load_config(path, env, complete=complete)
        except ConfigError:
            if how.startswith("environment") and not path.exists():
                raise ConfigError([ConfigProblem(f"{how}", "", f"{path}: file not found")]) from None
            raise
    if not any(name.startswith(ENV_PREFIX) and name != CONFIG_VARIABLE for name in env):
        raise ConfigError([_looked()])
    try:
        return parse_config({}, source="<environment>", environ=env, complete=complete)
    except ConfigError as exc:
        raise ConfigError([_looked(), *exc.problems]) from None


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
