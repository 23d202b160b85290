"""OAuth 1.0a (token-based auth) verification, as NetSuite checks HMAC-SHA256 signed requests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from dataclasses import dataclass

from oauthlib.oauth1.rfc5849 import signature, utils

from peppasync.contracts import check, contract

__all__ = ["OAuthCredentials", "OAuthVerifier", "authorization_parameters"]


def authorization_parameters(authorization: str) -> dict[str, str]:
    """The parameters of an ``OAuth ...`` Authorization header, unescaped (``ValueError`` if it cannot be parsed)."""
    return {k: utils.unescape(v) for k, v in utils.parse_authorization_header(authorization)}


@dataclass(frozen=True)
class OAuthCredentials:
    """What a NetSuite integration record and access token give a client."""

    account_id: str
    consumer_key: str
    consumer_secret: str
    token_id: str
    token_secret: str


class OAuthVerifier:
    """Checks an `Authorization: OAuth ...` header; `verify` returns None or what was wrong."""

    def __init__(self, credentials: OAuthCredentials) -> None:
        self.credentials = credentials
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def verify(self, method: str, url: str, authorization: str, body: bytes, content_type: str) -> str | None:
        creds = self.credentials
        if not authorization.startswith("OAuth "):
            return "missing an OAuth Authorization header"
        try:
            params = authorization_parameters(authorization)
        except (ValueError, IndexError):
            return "the OAuth Authorization header cannot be parsed"
        if not contract("netsuite", "TbaAuthorization").is_valid(params):  # built once, then cached
            problem = check("netsuite", "TbaAuthorization", params)[0]
            return f"the Authorization header breaks NetSuite's TBA contract: {problem}"
        if params["realm"] != creds.account_id:
            return f"realm {params['realm']!r} is not the account id"
        if params["oauth_consumer_key"] != creds.consumer_key or params["oauth_token"] != creds.token_id:
            return "unknown consumer key or token id"
        if "oauth_body_hash" in params:  # what OAuth clients add for a body that is not a form
            digest = base64.b64encode(hashlib.sha1(body).digest()).decode()
            if not hmac.compare_digest(digest, params["oauth_body_hash"]):
                return "oauth_body_hash does not match the body"
        query = url.split("?", 1)[1] if "?" in url else ""
        form = body.decode("utf-8", "replace") if "application/x-www-form-urlencoded" in content_type else ""
        collected = signature.collect_parameters(uri_query=query, body=form,
                                                 headers={"Authorization": authorization},
                                                 exclude_oauth_signature=True, with_realm=False)
        base = signature.signature_base_string(method.upper(), signature.base_string_uri(url),
                                               signature.normalize_parameters(collected))
        key = f"{utils.escape(creds.consumer_secret)}&{utils.escape(creds.token_secret)}"
        expected = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, params["oauth_signature"]):
            return "the signature does not match"
        with self._lock:
            nonce = (params["oauth_nonce"], params["oauth_timestamp"])
            if nonce in self._seen:
                return "the nonce was already used"
            self._seen.add(nonce)
        return None
