"""The HTTP surface: webhooks in, probes, metrics and the ops API."""

from peppasync.http.app import ConnectorControl, Engine, make_app
from peppasync.http.request import HttpError, Request, Response, json_response
from peppasync.http.server import HttpServer, listen
from peppasync.http.webhooks import SHOPIFY_TOPICS, shopify_hmac

__all__ = [
    "SHOPIFY_TOPICS",
    "ConnectorControl",
    "Engine",
    "HttpError",
    "HttpServer",
    "Request",
    "Response",
    "json_response",
    "listen",
    "make_app",
    "shopify_hmac",
]
