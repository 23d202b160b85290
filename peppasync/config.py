"""Configuration: one TOML file, parsed once into frozen, typed objects.

Every key can be overridden by an environment variable
``PEPPASYNC_<SECTION>_<KEY>``. Validation collects every problem and reports
each with the file, the key, and what was expected; unknown keys name the
closest valid one.

The URLs and credentials of Shopify, the ERP and the WMS have no defaults:
``complete=True`` (what ``serve`` and ``check-config`` ask for) requires every
key of ``REQUIRED``, with the section of the ERP ``[erp] kind`` names
(``ERP_REQUIRED``) in place of ``[netsuite]``. Only the sandbox supplies working values for them
(``Sandbox.config_sections()``), for ``demo``, ``sandbox`` and the tests.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from peppasync.config_gates import GatesConfig, parse_gates
from peppasync.errors import ConfigError, ConfigProblem
from peppasync.redact import is_secret_name

__all__ = [
    "COST_SOURCES",
    "ERP_KINDS",
    "FULFILLMENT_HOLD_REASONS",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "NETSUITE_CHOICES",
    "REQUIRED",
    "BusinessCentralConfig",
    "ClusterConfig",
    "Config",
    "ConsoleConfig",
    "EngineConfig",
    "ErpConfig",
    "GatesConfig",
    "InventoryConfig",
    "LogConfig",
    "MarginConfig",
    "NetsuiteConfig",
    "ServerConfig",
    "ShopifyConfig",
    "StoreConfig",
    "WmsConfig",
    "load_config",
    "parse_config",
]

ENV_PREFIX = "PEPPASYNC_"


@dataclass(frozen=True)
class ServerConfig:
    listen: str = "127.0.0.1:8470"
    ops_token: str = ""
    shutdown_timeout: float = 10.0
    max_body_bytes: int = 5_000_000

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0] or "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


@dataclass(frozen=True)
class StoreConfig:
    url: str = "sqlite:///peppasync.db"
    batch_max: int = 2000


@dataclass(frozen=True)
class ClusterConfig:
    # Several `serve` nodes on one PostgreSQL store (docs/operations.md); every node of a store
    # must say so. Off: one node per store, as on SQLite.
    enabled: bool = False
    # This node's name in `peppasync status` and the lease table; empty: HOST-PID.
    node_id: str = ""
    # Seconds a node's leases outlive its last heartbeat: how long its keys wait after it dies.
    lease_ttl: float = 10.0
    # Seconds between heartbeats (each renews the node's leases); well below lease_ttl.
    heartbeat_interval: float = 2.0
    # "notify": LISTEN/NOTIFY wake-up hints, with polling behind them; "poll": polling only,
    # for PgBouncer in transaction pooling (where LISTEN and session locks do not work).
    wakeups: str = "notify"


@dataclass(frozen=True)
class ShopifyConfig:
    shop_url: str = ""
    api_version: str = "2026-10"  # peppasync.contracts.SHOPIFY_API_VERSION: the schema the tests check
    access_token: str = ""
    webhook_secret: str = ""
    location_id: str = ""
    # An order whose fulfillment is on hold in Shopify (another app's fraud check, a deposit app...)
    # waits before the warehouse, unless every hold has one of these reasons (FULFILLMENT_HOLD_REASONS).
    ship_despite_holds: tuple[str, ...] = ()
    # Seconds between looks at a held order's holds.
    hold_recheck_seconds: float = 30.0


#: Shopify's ``FulfillmentHoldReason`` values
#: (https://shopify.dev/docs/api/admin-graphql/latest/enums/FulfillmentHoldReason).
FULFILLMENT_HOLD_REASONS = (
    "AWAITING_PAYMENT", "AWAITING_RETURN_ITEMS", "HIGH_RISK_OF_FRAUD", "INCORRECT_ADDRESS", "INVENTORY_OUT_OF_STOCK",
    "ONLINE_STORE_POST_PURCHASE_CROSS_SELL", "OTHER", "UNKNOWN_DELIVERY_DATE",
)


@dataclass(frozen=True)
class NetsuiteConfig:
    base_url: str = ""
    account_id: str = ""
    consumer_key: str = ""
    consumer_secret: str = ""
    token_id: str = ""
    token_secret: str = ""
    max_concurrency: int = 10
    # Internal id of the ERP item that books order lines without a SKU (engraving, services,
    # custom items); empty: such orders are quarantined with a reason that names this key.
    non_sku_item: str = ""
    # The account's own records that orders refer to, by internal id: the customer that takes
    # orders placed without a Shopify customer, the subsidiary new customers belong to (OneWorld
    # accounts; leave empty otherwise) and each currency's record (ISO 4217 code = id).
    guest_customer: str = ""
    subsidiary: str = ""
    currencies: Mapping[str, int] = field(default_factory=dict)
    # How an order's money is booked (``actors.adapters.NetsuiteRules``). Shipping: "ship_method"
    # (shippingCost with the shipping item named by the Shopify shipping line's title or code in
    # ship_methods, else default_ship_method) or "item" (a line on shipping_item).
    shipping: str = "ship_method"
    ship_methods: Mapping[str, int] = field(default_factory=dict)
    default_ship_method: str = ""
    shipping_item: str = ""
    # Discounts: "net" (each line net of its discount) or "item" (a discount_item line after it).
    discounts: str = "net"
    discount_item: str = ""
    # Tax: "erp" (NetSuite's tax engine) or "lines" (Shopify's tax per line, under tax_code).
    tax: str = "erp"
    tax_code: str = ""
    # Book in the shop's currency ("shop") or the buyer's at Shopify's rate ("presentment").
    book_currency: str = "shop"
    # Gift cards sold: this item (internal id); empty: the item whose external id is the SKU.
    gift_card_item: str = ""
    # Captured payments become customer deposits on the sales order.
    deposits: bool = True
    # Refunds: "credit_memo" or "cash_refund" (from refund_account, when given); amounts beyond
    # lines and shipping go on refund_item (else non_sku_item).
    refunds: str = "credit_memo"
    refund_account: str = ""
    refund_item: str = ""


#: The choices of each ``[netsuite]`` booking key, the first the default.
NETSUITE_CHOICES: Mapping[str, tuple[str, ...]] = types.MappingProxyType({
    "shipping": ("ship_method", "item"),
    "discounts": ("net", "item"),
    "tax": ("erp", "lines"),
    "book_currency": ("shop", "presentment"),
    "refunds": ("credit_memo", "cash_refund"),
})
# Which internal id each choice needs.
_NETSUITE_NEEDS = {("shipping", "item"): "shipping_item", ("discounts", "item"): "discount_item",
                   ("tax", "lines"): "tax_code"}


#: What ``[erp] kind`` accepts: the ERP whose section the engine uses.
ERP_KINDS = ("netsuite", "business_central")


@dataclass(frozen=True)
class ErpConfig:
    kind: str = "netsuite"


@dataclass(frozen=True)
class BusinessCentralConfig:
    """One company of a Business Central environment, reached with an app's client credentials."""

    base_url: str = "https://api.businesscentral.dynamics.com"
    login_url: str = "https://login.microsoftonline.com"
    tenant: str = ""
    environment: str = ""
    company_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    scope: str = "https://api.businesscentral.dynamics.com/.default"
    max_concurrency: int = 5
    # The customer number that takes orders placed without a Shopify customer.
    guest_customer: str = ""
    # The item number that books order lines without a SKU; empty: such orders are quarantined.
    non_sku_item: str = ""


@dataclass(frozen=True)
class WmsConfig:
    base_url: str = ""
    api_key: str = ""
    api_secret: str = ""
    webhook_token: str = ""
    # Stock comes from ShipStation V2's inventory API (V1 has none): its own URL, key and limit.
    inventory_url: str = "http://127.0.0.1:8473"
    inventory_api_key: str = ""
    inventory_warehouse_id: str = ""
    inventory_rate_limit: int = 200


@dataclass(frozen=True)
class EngineConfig:
    max_attempts: int = 5
    idle_seconds: float = 60.0
    reconcile_interval: float = 60.0
    prefetch: int = 16
    retry_min_seconds: float = 0.5
    retry_max_seconds: float = 60.0


@dataclass(frozen=True)
class InventoryConfig:
    default_buffer: int = 0
    buffers: Mapping[str, int] = field(default_factory=dict)
    poll_interval: float = 5.0
    flush_interval: float = 1.0


#: What ``[log] level`` and ``peppasync serve --log-level`` accept, most verbose first.
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
#: What ``[log] format`` and ``--log-format`` accept: one JSON object per line, or text for people.
LOG_FORMATS = ("json", "text")


@dataclass(frozen=True)
class LogConfig:
    level: str = "info"  # any case: DEBUG is debug
    format: str = "json"


#: Where a unit's cost may come from, in the default order they are tried (``[margin] cost_sources``).
COST_SOURCES = ("erp.average_cost", "erp.last_purchase_price", "erp.landed_cost", "shopify.unit_cost")
#: Component names the margin uses itself; ``[margin] per_order`` costs take other names.
MARGIN_COMPONENTS = ("revenue", "cogs", "fulfilment", "payment_fees")


@dataclass(frozen=True)
class MarginConfig:
    """True margin per order: where costs come from, and the estimates used without an actual figure."""

    enabled: bool = True
    # Tried in this order; the first that knows a SKU's cost gives its snapshot at the time of sale.
    cost_sources: tuple[str, ...] = COST_SOURCES
    # Without a cost from any source: a unit costs this percentage of its price (absent: COGS missing).
    cost_percent: float | None = None
    # Payment fees where the payment provider reports none: percent of each charge plus a fixed amount.
    fee_percent: float = 0.0
    fee_fixed: float = 0.0
    # Label cost of an order that ships, until the warehouse's label is known (absent: missing).
    fulfilment_estimate: float | None = None
    # Other costs of every order that ships, by name, in the shop's currency: { packaging = 0.8, handling = 1.5 }.
    per_order: Mapping[str, float] = field(default_factory=dict)
    # Orders whose margin falls below this percentage are counted and alerted on (absent: no floor).
    floor_percent: float | None = None
    # Seconds a unit cost read from the ERP or Shopify is reused before it is read again.
    cost_ttl: float = 3600.0


@dataclass(frozen=True)
class ConsoleConfig:
    """The web console (``/console``) for people who do not use the CLI: who may sign in, as what."""

    # Who may sign in, and their roles: { alice = "finance", bob = "design,factory" }.
    users: Mapping[str, str] = field(default_factory=dict)
    # Each user's sign-in token, long and random; best given as PEPPASYNC_CONSOLE_TOKENS = '{alice = "..."}'.
    tokens: Mapping[str, str] = field(default_factory=dict)
    # The roles that may read the margin page.
    margin_roles: tuple[str, ...] = ("finance",)
    # Hours a sign-in lasts.
    session_hours: float = 12.0
    # Send the session cookie over HTTPS only (set it when a TLS proxy serves the console).
    secure_cookie: bool = False


@dataclass(frozen=True)
class Config:
    """The whole configuration; ``source`` is the file it came from."""

    server: ServerConfig = field(default_factory=ServerConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    shopify: ShopifyConfig = field(default_factory=ShopifyConfig)
    netsuite: NetsuiteConfig = field(default_factory=NetsuiteConfig)
    erp: ErpConfig = field(default_factory=ErpConfig)
    business_central: BusinessCentralConfig = field(default_factory=BusinessCentralConfig)
    wms: WmsConfig = field(default_factory=WmsConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    inventory: InventoryConfig = field(default_factory=InventoryConfig)
    margin: MarginConfig = field(default_factory=MarginConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    gates: GatesConfig = field(default_factory=GatesConfig)
    log: LogConfig = field(default_factory=LogConfig)
    source: str = "<defaults>"


_SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(Config)[f.name]
    for f in dataclasses.fields(Config)
    if f.name != "source"
}


#: What ``serve`` cannot run without: per section, each key that has no usable
#: default and the value it expects. Every other key is optional: it has a
#: default, or leaving it empty turns its feature off. A key added here is
#: required by ``serve`` and ``check-config`` from then on.
REQUIRED: Mapping[str, Mapping[str, str]] = types.MappingProxyType({
    "shopify": types.MappingProxyType({
        "shop_url": "the shop's URL, such as https://SHOP.myshopify.com",
        "access_token": "the app's Admin API access token (shpat_...)",
        "webhook_secret": "the app's client secret, which signs Shopify webhooks",
        "location_id": "the location whose stock Peppasync sets, such as gid://shopify/Location/123",
    }),
    "netsuite": types.MappingProxyType({
        "base_url": "the account's REST URL, such as https://ACCOUNT.suitetalk.api.netsuite.com",
        "account_id": "the NetSuite account id (the OAuth realm)",
        "consumer_key": "the integration record's consumer key",
        "consumer_secret": "the integration record's consumer secret",
        "token_id": "the access token's id",
        "token_secret": "the access token's secret",
    }),
    "wms": types.MappingProxyType({
        "base_url": "the ShipStation API URL, such as https://ssapi.shipstation.com",
        "api_key": "the ShipStation API key",
        "api_secret": "the ShipStation API secret",
        "webhook_token": "a long random token, also put in the SHIP_NOTIFY webhook URL",
        # ShipStation V1 has no inventory resource: without V2's, Shopify's stock is never set.
        "inventory_api_key": "the ShipStation API V2 key that reads stock levels (GET /v2/inventory)",
    }),
})


#: The section each ERP needs in place of ``REQUIRED["netsuite"]``, by ``[erp] kind``.
ERP_REQUIRED: Mapping[str, Mapping[str, Mapping[str, str]]] = types.MappingProxyType({
    "netsuite": types.MappingProxyType({"netsuite": REQUIRED["netsuite"]}),
    "business_central": types.MappingProxyType({"business_central": types.MappingProxyType({
        "tenant": "the Microsoft Entra tenant id (a GUID) or its domain",
        "environment": "the environment's name, such as production",
        "company_id": "the company's id (a GUID, GET .../api/v2.0/companies lists them)",
        "client_id": "the app registration's client id",
        "client_secret": "the app registration's client secret",
        "guest_customer": "the number of the customer that takes orders placed without a Shopify customer",
    })}),
})


def load_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None, *, complete: bool = False
) -> Config:
    """Read, parse and validate a TOML file; raise ``ConfigError`` naming every problem.

    With ``complete``, every key of ``REQUIRED`` must be given, in the file or
    in the environment: what a server needs to reach the real services.
    """
    name = str(path)
    p = Path(path)
    if not p.exists():
        raise ConfigError([ConfigProblem(name, "", "file not found")])
    if p.is_dir():
        raise ConfigError([ConfigProblem(name, "", "is a directory, expected a TOML file")])
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(name, "", f"TOML syntax error: {exc}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(name, "", f"not UTF-8 text: {exc.reason}")]) from None
    return parse_config(raw, source=name, environ=environ, complete=complete)


def parse_config(
    raw: Mapping[str, Any],
    *,
    source: str = "<defaults>",
    environ: Mapping[str, str] | None = None,
    complete: bool = False,
) -> Config:
    """Build a ``Config`` from parsed TOML plus ``PEPPASYNC_*`` environment overrides.

    With ``complete``, a missing section or required key is a problem too
    (see ``REQUIRED``); without it, their values are empty and the engine
    builds no connector for that system.
    """
    env = os.environ if environ is None else environ
    problems: list[ConfigProblem] = []
    for section in raw:
        if section not in _SECTIONS:
            problems.append(ConfigProblem(source, section, _unknown("section", section, _SECTIONS)))
        elif not isinstance(raw[section], dict):
            problems.append(ConfigProblem(source, section, "expected a [table]"))
    sections: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        table = raw.get(name, {})
        if name == "gates":  # nested tables: peppasync.config_gates
            sections[name] = parse_gates(table if isinstance(table, dict) else {}, source, env, problems)
            continue
        sections[name] = _build_section(
            name, cls, table if isinstance(table, dict) else {}, source, env, problems
        )
    _check_env_names(env, problems)
    missing = _check_complete(raw, source, env) if complete else []
    if problems:
        raise ConfigError(problems + missing)
    config = Config(source=source, **sections)
    _check_semantics(config, problems)
    if problems or missing:
        raise ConfigError(problems + missing)
    return config


def _env_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section.upper()}_{key.upper()}"


def _check_complete(raw: Mapping[str, Any], source: str, env: Mapping[str, str]) -> list[ConfigProblem]:
    """A problem for each section of ``REQUIRED`` given nowhere, else for each key missing or empty."""
    problems: list[ConfigProblem] = []
    erp = raw.get("erp")
    kind = env.get(_env_name("erp", "kind"), erp.get("kind") if isinstance(erp, dict) else None) or "netsuite"
    required: dict[str, Mapping[str, str]] = {}
    for name, keys in REQUIRED.items():  # the ERP's section where [netsuite] stands; an unknown kind: none
        required.update(ERP_REQUIRED.get(str(kind), {}) if name == "netsuite" else {name: keys})
    for section, keys in required.items():
        given = raw.get(section)
        if given is not None and not isinstance(given, dict):
            continue  # reported as "expected a [table]"
        table: Mapping[str, Any] = given or {}
        from_env = [f.name for f in dataclasses.fields(_SECTIONS[section]) if _env_name(section, f.name) in env]
        if given is None and not from_env:
            problems.append(ConfigProblem(
                source, section,
                f"section [{section}] is missing; serve needs {', '.join(keys)}"
                f" (each may come from {_env_name(section, '<KEY>')} instead)",
            ))
            continue
        for key, expected in keys.items():
            var = _env_name(section, key)
            value = env[var] if var in env else table.get(key)
            if isinstance(value, str) and value.strip():
                continue
            if value is not None and not isinstance(value, str):
                continue  # a wrong type is reported as such
            if var in env:
                problems.append(ConfigProblem(f"environment {var}", f"{section}.{key}",
                                              f"is empty; expected {expected}"))
            else:
                state = "is empty" if key in table else "is missing"
                problems.append(ConfigProblem(source, f"{section}.{key}",
                                              f"{state}; expected {expected}; set it here or in {var}"))
    return problems


def _build_section(
    section: str,
    cls: type,
    table: dict[str, Any],
    source: str,
    env: Mapping[str, str],
    problems: list[ConfigProblem],
) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            problems.append(
                ConfigProblem(source, f"{section}.{key}", _unknown("key", key, fields, section))
            )
            continue
        converted = _convert(value, hints[key], from_env=False)
        if isinstance(converted, _Bad) and is_secret_name(key):
            # Not echoed: a secret typed without its quotes is still a secret.
            converted = _Bad(f"expected a string, got {_describe(value, shown=False)}")
        if isinstance(converted, _Bad):
            problems.append(ConfigProblem(source, f"{section}.{key}", converted.message))
        else:
            values[key] = converted
    for key in fields:
        var = _env_name(section, key)
        if var in env:
            converted = _convert(env[var], hints[key], from_env=True)
            if isinstance(converted, _Bad):
                problems.append(ConfigProblem(f"environment {var}", f"{section}.{key}", converted.message))
            else:
                values[key] = converted
    return cls(**values)


class _Bad:
    def __init__(self, message: str) -> None:
        self.message = message


def _describe(value: Any, *, shown: bool = True) -> str:
    kind = {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)
    if not shown:
        return f"{kind} (value not shown: the key holds a secret)"
    return f"{kind} ({value!r})" if not isinstance(value, (dict, list)) else kind


def _convert(value: Any, hint: Any, *, from_env: bool) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is types.UnionType and type(None) in args:
        # TOML has no null: leave the key out for "none"; in the environment, set it empty.
        if from_env and isinstance(value, str) and not value.strip():
            return None
        [inner] = [a for a in args if a is not type(None)]
        return _convert(value, inner, from_env=from_env)
    if origin is tuple:
        if from_env and isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return _Bad(f"expected an array of strings, got {_describe(value)}")
        return tuple(value)
    if hint is bool:
        if from_env and isinstance(value, str):
            low = value.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            return _Bad(f"expected a boolean (true/false), got {value!r}")
        return value if isinstance(value, bool) else _Bad(f"expected a boolean, got {_describe(value)}")
    if hint is int:
        if from_env and isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                return _Bad(f"expected an integer, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, int):
            return _Bad(f"expected an integer, got {_describe(value)}")
        return value
    if hint is float:
        if from_env and isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                return _Bad(f"expected a number, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _Bad(f"expected a number, got {_describe(value)}")
        return float(value)
    if hint is str:
        return value if isinstance(value, str) else _Bad(f"expected a string, got {_describe(value)}")
    if origin in (dict, collections.abc.Mapping):
        if from_env and isinstance(value, str):
            try:
                value = tomllib.loads(f"v = {value}")["v"]
            except tomllib.TOMLDecodeError:
                return _Bad(f"expected an inline table such as {{SKU-1 = 5}}, got {value!r}")
        if args[1] is str:
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                return _Bad(f"expected a table of name = \"text\", got {_describe(value, shown=False)}")
            return types.MappingProxyType({str(k): v for k, v in value.items()})
        if args[1] is float:
            if not isinstance(value, dict):
                return _Bad(f"expected a table of name = amount, got {_describe(value)}")
            amounts: dict[str, float] = {}
            for k, v in value.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                    return _Bad(f"expected a non-negative number for {k!r}, got {_describe(v)}")
                amounts[str(k)] = float(v)
            return types.MappingProxyType(amounts)
        if not isinstance(value, dict):
            return _Bad(f"expected a table of NAME = integer, got {_describe(value)}")
        out: dict[str, int] = {}
        for k, v in value.items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                return _Bad(f"expected a non-negative integer for {k!r}, got {_describe(v)}")
            out[str(k)] = v
        return types.MappingProxyType(out)
    return _Bad(f"unsupported type {hint!r}")


def _unknown(what: str, name: str, valid: Mapping[str, Any], section: str = "") -> str:
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    where = f" in [{section}]" if section else ""
    hint = f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(sorted(valid))}"
    return f"unknown {what} {name!r}{where}{hint}"


def _check_env_names(env: Mapping[str, str], problems: list[ConfigProblem]) -> None:
    known = {
        _env_name(s, f.name)
        for s, cls in _SECTIONS.items()
        for f in dataclasses.fields(cls)
        if s != "gates" or f.name == "on_reject"  # workflows and gates are tables: in the file only
    }
    for var in env:
        if not var.startswith(ENV_PREFIX) or var in known:
            continue
        rest = var[len(ENV_PREFIX):]
        if rest.split("_", 1)[0].lower() not in _SECTIONS:
            continue  # PEPPASYNC_TEST_POSTGRES_URL and friends are not config
        close = difflib.get_close_matches(var, sorted(known), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        problems.append(ConfigProblem(f"environment {var}", "", f"unknown setting{hint}"))


def _check_semantics(config: Config, problems: list[ConfigProblem]) -> None:
    src = config.source

    def need(ok: bool, key: str, message: str) -> None:
        if not ok:
            problems.append(ConfigProblem(src, key, message))

    host, _, port = config.server.listen.rpartition(":")
    need(bool(host) and port.isdigit() and 0 <= int(port) < 65536, "server.listen",
         f"expected HOST:PORT such as 127.0.0.1:8470, got {config.server.listen!r}")
    need(config.server.shutdown_timeout > 0, "server.shutdown_timeout", "expected a positive number of seconds")
    need(config.server.max_body_bytes > 0, "server.max_body_bytes", "expected a positive number of bytes")
    url = config.store.url
    need(url.startswith(("sqlite:///", "postgresql://", "postgres://")), "store.url",
         f"expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB, got {url!r}")
    need(config.store.batch_max >= 1, "store.batch_max", "expected an integer of at least 1")
    cluster = config.cluster
    if cluster.enabled:
        need(url.startswith(("postgresql://", "postgres://")), "cluster.enabled",
             "a cluster needs a PostgreSQL store ([store] url = postgresql://...); SQLite serves one node:"
             " set enabled = false")
    need(cluster.lease_ttl > 0, "cluster.lease_ttl", "expected a positive number of seconds")
    need(0 < cluster.heartbeat_interval <= cluster.lease_ttl / 3, "cluster.heartbeat_interval",
         f"expected a positive number of seconds at most a third of lease_ttl ({cluster.lease_ttl}),"
         f" got {cluster.heartbeat_interval}")
    need(cluster.wakeups in ("notify", "poll"), "cluster.wakeups",
         f"expected 'notify' or 'poll' (behind PgBouncer's transaction pooling), got {cluster.wakeups!r}")
    need(config.erp.kind in ERP_KINDS, "erp.kind", f"expected one of {', '.join(ERP_KINDS)}, got {config.erp.kind!r}")
    for section, key in (("shopify", "shop_url"), ("netsuite", "base_url"), ("wms", "base_url"),
                         ("business_central", "base_url"), ("business_central", "login_url")):
        value = getattr(getattr(config, section), key)
        parsed = urlparse(value)
        need(not value or parsed.scheme in ("http", "https") and bool(parsed.netloc), f"{section}.{key}",
             f"expected an http(s) URL, got {value!r}")
    need(config.netsuite.max_concurrency >= 1, "netsuite.max_concurrency", "expected an integer of at least 1")
    for reason in config.shopify.ship_despite_holds:
        need(reason in FULFILLMENT_HOLD_REASONS, "shopify.ship_despite_holds",
             f"unknown hold reason {reason!r}; Shopify's reasons: {', '.join(FULFILLMENT_HOLD_REASONS)}")
    need(config.shopify.hold_recheck_seconds > 0, "shopify.hold_recheck_seconds",
         "expected a positive number of seconds")
    ns = config.netsuite
    for key, choices in NETSUITE_CHOICES.items():
        value = getattr(ns, key)
        need(value in choices, f"netsuite.{key}", f"expected one of {', '.join(map(repr, choices))}, got {value!r}")
    for (key, choice), id_key in _NETSUITE_NEEDS.items():
        need(getattr(ns, key) != choice or bool(getattr(ns, id_key)), f"netsuite.{id_key}",
             f"is empty, but [netsuite] {key} = {choice!r} needs it: set it to the internal id of that NetSuite "
             f"record, or choose {key} = {NETSUITE_CHOICES[key][0]!r}")
    for name, internal in ns.ship_methods.items():
        need(internal >= 1, "netsuite.ship_methods",
             f"expected the shipping item's internal id (at least 1) for {name!r}, got {internal}")
    for key in ("guest_customer", "subsidiary", "default_ship_method", "shipping_item", "discount_item", "tax_code",
                "gift_card_item", "refund_account", "refund_item"):
        value = getattr(config.netsuite, key)
        need(value == "" or (value.isascii() and value.isdigit()), f"netsuite.{key}",
             f"expected the record's internal id (digits, as NetSuite shows it), got {value!r}")
    need(config.business_central.max_concurrency >= 1, "business_central.max_concurrency",
         "expected an integer of at least 1")
    for code, internal in config.netsuite.currencies.items():
        need(len(code) == 3 and code.isalpha() and code.isupper(), "netsuite.currencies",
             f"expected ISO 4217 codes such as USD as keys, got {code!r}")
        need(internal >= 1, "netsuite.currencies", f"expected an internal id of at least 1 for {code}, got {internal}")
    inventory_url = urlparse(config.wms.inventory_url)
    need(inventory_url.scheme in ("http", "https") and bool(inventory_url.netloc), "wms.inventory_url",
         f"expected an http(s) URL such as https://api.shipstation.com, got {config.wms.inventory_url!r}")
    need(config.wms.inventory_rate_limit >= 1, "wms.inventory_rate_limit",
         "expected requests per minute, an integer of at least 1 (ShipStation's default is 200)")
    e = config.engine
    need(e.max_attempts >= 1, "engine.max_attempts", "expected an integer of at least 1")
    need(e.idle_seconds > 0, "engine.idle_seconds", "expected a positive number of seconds")
    need(e.reconcile_interval > 0, "engine.reconcile_interval", "expected a positive number of seconds")
    need(e.prefetch >= 1, "engine.prefetch", "expected an integer of at least 1")
    need(0 < e.retry_min_seconds <= e.retry_max_seconds, "engine.retry_min_seconds",
         "expected 0 < retry_min_seconds <= retry_max_seconds")
    need(config.inventory.default_buffer >= 0, "inventory.default_buffer", "expected a non-negative integer")
    need(config.inventory.poll_interval > 0, "inventory.poll_interval", "expected a positive number of seconds")
    need(config.inventory.flush_interval > 0, "inventory.flush_interval", "expected a positive number of seconds")
    _check_margin(config.margin, need)
    _check_console(config.console, need)
    known_roles = {r.strip() for roles in config.console.users.values() for r in roles.split(",")}
    for gate in config.gates.gates.values():
        # The owner acts on the gate; whom it escalates to may be a team told some other way.
        need(not gate.owner or not config.console.users or gate.owner in known_roles, f"gates.{gate.name}",
             f"role {gate.owner!r} is no [console] user's: nobody could act on this gate in the console")
    need(config.log.level.lower() in LOG_LEVELS, "log.level",
         f"expected one of {', '.join(LOG_LEVELS)}, got {config.log.level!r}")
    need(config.log.format in LOG_FORMATS, "log.format",
         f"expected one of {', '.join(LOG_FORMATS)}, got {config.log.format!r}")


def _check_console(c: ConsoleConfig, need: typing.Callable[[bool, str, str], None]) -> None:
    for user, roles in c.users.items():
        need(re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", user) is not None, "console.users",
             f"expected user names of lower-case letters, digits, '.', '_' and '-', got {user!r}")
        need(all(re.fullmatch(r"[a-z][a-z0-9_]*", r.strip()) for r in roles.split(",")), "console.users",
             f"expected roles such as \"finance\" or \"design,factory\" for {user!r}, got {roles!r}")
        token = c.tokens.get(user, "")
        need(len(token) >= 24, "console.tokens",
             f"user {user!r} needs a sign-in token of at least 24 characters (set PEPPASYNC_CONSOLE_TOKENS)")
    for user in c.tokens:
        need(user in c.users, "console.tokens", f"a token for {user!r}, who is not in [console] users")
    tokens = [t for t in c.tokens.values() if t]
    need(len(set(tokens)) == len(tokens), "console.tokens", "two users have the same token")
    need(c.session_hours > 0, "console.session_hours", "expected a positive number of hours")


def _check_margin(m: MarginConfig, need: typing.Callable[[bool, str, str], None]) -> None:
    for source in m.cost_sources:
        need(source in COST_SOURCES, "margin.cost_sources",
             f"unknown cost source {source!r}; valid: {', '.join(COST_SOURCES)}")
    need(len(set(m.cost_sources)) == len(m.cost_sources), "margin.cost_sources", "a cost source is named twice")
    for key in ("cost_percent", "fee_percent", "floor_percent"):
        value = getattr(m, key)
        low = -100.0 if key == "floor_percent" else 0.0
        need(value is None or low <= value <= 100, f"margin.{key}", f"expected a percentage from {low:g} to 100, "
             f"got {value!r}")
    for key in ("fee_fixed", "fulfilment_estimate"):
        value = getattr(m, key)
        need(value is None or value >= 0, f"margin.{key}", f"expected a non-negative amount, got {value!r}")
    need(m.cost_ttl > 0, "margin.cost_ttl", "expected a positive number of seconds")
    for name in m.per_order:
        need(name.isidentifier() and name.islower() and name not in MARGIN_COMPONENTS, "margin.per_order",
             f"expected cost names in lower_snake_case other than {', '.join(MARGIN_COMPONENTS)}, got {name!r}")

