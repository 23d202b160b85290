"""OAuth 1.0a (token-based auth) verification, as NetSuite checks HMAC-SHA256 signed requests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from dataclasses import dataclass

from oauthlib.oauth1.rfc5849 import signature, utils

__all__ = ["OAuthCredentials", "OAuthVerifier"]


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
            params = {k: utils.unescape(v) for k, v in utils.parse_authorization_header(authorization)}
        except (ValueError, IndexError):
            return "the OAuth Authorization header cannot be parsed"
        if params.get("realm") != creds.account_id:
            return f"realm {params.get('realm')!r} is not the account id"
        if params.get("oauth_signature_method") != "HMAC-SHA256":
            return f"signature method {params.get('oauth_signature_method')!r} is not HMAC-SHA256"
        if params.get("oauth_consumer_key") != creds.consumer_key or params.get("oauth_token") != creds.token_id:
            return "unknown consumer key or token id"
        for name in ("oauth_nonce", "oauth_timestamp", "oauth_signature"):
            if not params.get(name):
                return f"{name} is missing"
        if "oauth_body_hash" in params:
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
