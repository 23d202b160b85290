"""Secrets out of everything an operator reads: logs, ``status``, error messages.

Two nets, because either alone leaks. The configuration's own secret values
(tokens, client secrets, the store's password) are known once it is loaded:
any text that contains one has it replaced, wherever it came from (a URL in an
exception, a header echoed by a library). Before that, and for secrets the
configuration does not know, shapes give them away: a password in a URL, a
``token=`` query parameter, an ``Authorization`` header, a field whose name
says it is a secret.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["MASK", "Redactor", "config_secrets", "is_secret_name"]

MASK = "***"

# Parts of a key, field or parameter name that mark its value as a secret.
_SECRET_WORDS = ("token", "secret", "password", "passwd", "authorization", "api_key", "apikey",
                 "consumer_key", "private_key", "cookie", "credential")

# Shorter known values are not replaced as text: "ck" or "secret" would mask that word
# in every line. Real credentials are longer; the shapes below catch short ones in place.
_MIN_KNOWN = 8

_WORDS = "|".join(_SECRET_WORDS)
# scheme://user:password@host
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"]*:)(?P<value>[^\s@/'\"]+)(?=@)")
# token=..., ?password=..., &access_token=... (query strings, form bodies, key=value logs)
_ASSIGNED = re.compile(
    rf"(?P<head>\b[\w.-]*(?:{_WORDS})[\w.-]*=)(?P<value>[^\s&;,'\"]+)", re.IGNORECASE
)
# 'access_token': 'shpat_...', "Authorization": "Bearer ...", X-Shopify-Access-Token: ...
_QUOTED = re.compile(
    rf"(?P<head>(?P<q>['\"])[\w.-]*(?:{_WORDS})[\w.-]*(?P=q)\s*:\s*)(?P<vq>['\"])(?P<value>.*?)(?P=vq)",
    re.IGNORECASE,
)
# Authorization: Bearer ..., X-Shopify-Access-Token: ..., X-Api-Key: ... (header names, hyphenated)
_HEADER = re.compile(
    r"(?P<head>(?<![\w.-])(?:proxy-)?(?:authorization|cookie|set-cookie|x-[a-z-]*(?:token|key|secret))"
    r":[ \t]*(?:(?:bearer|basic|token)[ \t]+)?)(?P<value>[^\s,'\"]+)",
    re.IGNORECASE,
)
# Bearer abc123... anywhere: a credential has a digit or a symbol, a word does not.
_SCHEME = re.compile(
    r"(?P<head>\b(?:Bearer|Basic)[ \t]+)(?P<value>(?=[A-Za-z]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{6,})"
)


def is_secret_name(name: str) -> bool:
    """Whether a key, field, header or parameter of this name holds a secret."""
    low = name.lower().replace("-", "_")
    return any(word in low for word in _SECRET_WORDS)


def _mask(match: re.Match[str]) -> str:
    whole, value = match.group(0), match.group("value")
    if not value or value == MASK:
        return whole
    start = match.start("value") - match.start(0)
    return whole[:start] + MASK + whole[start + len(value):]


class Redactor:
    """Masks secrets in text and in structured values (dicts, lists, dataclasses)."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        values = {v for v in known if isinstance(v, str) and len(v) >= _MIN_KNOWN}
        # URL-quoted forms too: a password appears quoted inside a store URL.
        values |= {unquote(v) for v in values}
        self._known = sorted(values, key=len, reverse=True)

    def text(self, text: str) -> str:
        """``text`` with every secret it shows replaced by ``***``."""
        for value in self._known:
            if value in text:
                text = text.replace(value, MASK)
        for pattern in (_URL_PASSWORD, _QUOTED, _ASSIGNED, _HEADER, _SCHEME):
            text = pattern.sub(_mask, text)
        return text

    def value(self, value: Any, name: str = "") -> Any:
        """A copy of ``value`` safe to show: secret-named fields masked, every string redacted."""
        if name and is_secret_name(name) and value not in (None, "", 0, False):
            return MASK if isinstance(value, (str, bytes, int, float)) else self.value(value)
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.value(v) for v in value]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: self.value(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
        return value


def config_secrets(config: Any) -> frozenset[str]:
    """Every secret value a configuration holds: secret-named keys, and the password of any URL.

    Takes any frozen dataclass of sections (``peppasync.config.Config``), so it
    stays right as sections and keys are added.
    """
    found: set[str] = set()
    for section in dataclasses.fields(config):
        table = getattr(config, section.name)
        if not dataclasses.is_dataclass(table):
            continue
        for key in dataclasses.fields(table):
            value = getattr(table, key.name)
            if not isinstance(value, str) or not value:
                continue
            if is_secret_name(key.name):
                found.add(value)
            elif "://" in value:
                try:
                    password = urlsplit(value).password
                except ValueError:
                    password = None
                if password:
                    found.add(password)
    return frozenset(found)
