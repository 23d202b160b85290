"""What the deploy tests need to know about PromQL, the exposition and the files under deploy/.

There is no PromQL parser for Python; promtool does the parsing (a query that
does not parse fails ``promtool check rules``), and this module only finds the
metric names a query selects, which is enough to check them against
``/metrics``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules" / "peppasync-alerts.yml"
RULE_TESTS = sorted((DEPLOY / "prometheus" / "tests").glob("*.test.yml"))
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "peppasync.json"
RUNBOOKS = ROOT / "docs" / "runbooks"

# Series Prometheus itself attaches to every target; the server cannot export them.
SCRAPE_SERIES = {"up"}

_FUNCTIONS_AND_KEYWORDS = {
    "abs", "absent", "absent_over_time", "avg", "avg_over_time", "bottomk", "ceil", "changes",
    "clamp", "clamp_max", "clamp_min", "count", "count_over_time", "count_values", "deriv",
    "delta", "exp", "floor", "group", "histogram_quantile", "holt_winters", "idelta",
    "increase", "irate", "label_join", "label_replace", "last_over_time", "ln", "log2",
    "log10", "max", "max_over_time", "min", "min_over_time", "predict_linear",
    "quantile", "quantile_over_time", "rate", "resets", "round", "scalar", "sort",
    "sort_desc", "sqrt", "stddev", "stddev_over_time", "stdvar", "sum", "sum_over_time",
    "time", "timestamp", "topk", "vector", "and", "or", "unless", "by", "without", "on",
    "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NAME_MATCHER = re.compile(r'__name__\s*=\s*"([^"]+)"')


def metric_names(expr: str) -> set[str]:
    """Names of the series a PromQL expression selects (not functions, labels or keywords)."""
    names = set(_NAME_MATCHER.findall(expr))
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    for match in _IDENT.finditer(text):
        word = match.group(0)
        before = text[: match.start()]
        # A duration such as 5m in "offset 5m", or the exponent of 1e3.
        if before and (before[-1].isdigit() or before[-1] == "."):
            continue
        if word.lower() in _FUNCTIONS_AND_KEYWORDS:
            continue
        names.add(word)
    return names


def exported_series(exposition: str) -> set[str]:
    """Every series name a text exposition can carry, read from its ``# TYPE`` lines.

    Labelled metrics without children print no samples, so the samples alone
    would miss them; the type says which suffixes each family has.
    """
    names: set[str] = set()
    for line in exposition.splitlines():
        if not line.startswith("# TYPE "):
            continue
        _, _, name, kind = line.split(" ", 3)
        if kind == "counter":
            names.add(name)
            names.add(name.removesuffix("_total") + "_created")
        elif kind in ("histogram", "summary"):
            suffixes = ("_bucket", "_count", "_sum", "_created") if kind == "histogram" else ("_count", "_sum", "_created", "")
            names.update(name + s for s in suffixes)
        else:
            names.add(name)
    return names


def load_rules() -> list[dict[str, Any]]:
    """Every alerting rule in the rule file, in order."""
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def load_rule_tests() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in RULE_TESTS:
        yield path, yaml.safe_load(path.read_text(encoding="utf-8"))


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def dashboard_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included, rows themselves excluded."""
    out: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            out.extend(panel.get("panels", []))
        else:
            out.append(panel)
    return out


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    queries = [
        (f"panel {panel['title']!r} target {target['refId']}", target["expr"])
        for panel in dashboard_panels(dashboard)
        for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", query)
            queries.append((f"variable {variable['name']!r}", inner.group(1) if inner else query))
    return queries


def dashboard_panel(dashboard: dict[str, Any], title: str) -> dict[str, Any]:
    """The one panel with this title."""
    (panel,) = [p for p in dashboard_panels(dashboard) if p["title"] == title]
    return panel


#: What each Grafana unit the dashboard uses shows: a quantity, as ``quantity`` names them.
UNIT_QUANTITIES = {
    "s": "seconds",
    "bytes": "bytes",
    "percentunit": "ratio",
    "reqps": "per second",
    "ops": "per second",
    "short": "count",
    "none": "count",
}


def _top_level_division(text: str) -> tuple[str, str] | None:
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "/" and depth == 0:
            return text[:i], text[i + 1 :]
    return None


def quantity(expr: str) -> str:
    """What a query measures: ``seconds``, ``bytes``, ``ratio``, ``per second`` or ``count``.

    Prometheus names carry their base unit (``_seconds``, ``_bytes``, ``_total``),
    so the outermost operation and the metric's name decide: a quotient of two
    rates is a ratio, a quantile of a ``_seconds`` histogram is seconds, an
    increase is a count, a rate is per second (a rate of seconds is a ratio),
    and a gauge is what its suffix says.
    """
    text = _RANGE.sub("", _MATCHERS.sub("", _STRING.sub('""', expr))).strip()
    names = sorted(metric_names(expr))
    division = _top_level_division(text)
    if division is not None:
        if all(re.search(r"\b(rate|irate|increase)\(", side) for side in division):
            return "ratio"
        raise ValueError(f"cannot tell what {expr!r} measures: a quotient of anything but two rates")
    if len(names) != 1:
        raise ValueError(f"cannot tell what {expr!r} measures: it reads {names}")
    (name,) = names
    if text.startswith("histogram_quantile("):
        base = name.removesuffix("_bucket")
    elif re.search(r"\bincrease\(", text):
        return "count"
    elif re.search(r"\b(rate|irate)\(", text):
        if name.endswith("_seconds_total"):
            return "ratio"
        if name.endswith("_bytes_total"):
            return "bytes per second"
        return "per second"
    else:
        base = name
    if base.endswith("_seconds"):
        return "seconds"
    if base.endswith("_bytes"):
        return "bytes"
    return "count"


def substitute_variables(expr: str) -> str:
    """Grafana's variables replaced by values Prometheus accepts, as Grafana would send them."""
    for name, value in (
        ("$__rate_interval", "1m"), ("$__interval", "15s"), ("$__range", "1h"),
        ("${job}", ".*"), ("$job", ".*"), ("${instance}", ".*"), ("$instance", ".*"),
    ):
        expr = expr.replace(name, value)
    return expr


def promtool() -> str | None:
    return shutil.which("promtool")


def run_promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    tool = promtool()
    assert tool is not None
    return subprocess.run(
        [tool, *args], input=stdin.decode() if stdin is not None else None,
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )


def promql_test(tmp_path: Path, series: dict[str, str], expr: str, eval_time: str, expected: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """Evaluate ``expr`` in ``promtool test rules`` over input series (name -> values) and compare with ``expected``.

    ``expected`` is promtool's ``exp_samples``: ``{"labels": ..., "value": ...}``.
    """
    test = tmp_path / "query.test.yml"
    test.write_text(
        yaml.safe_dump({
            "rule_files": [],
            "evaluation_interval": "1m",
            "tests": [{
                "interval": "15s",
                "input_series": [{"series": s, "values": v} for s, v in series.items()],
                "promql_expr_test": [{"expr": expr, "eval_time": eval_time, "exp_samples": expected}],
            }],
        }),
        encoding="utf-8",
    )
    return run_promtool("test", "rules", str(test))


def write_recording_rules(path: Path, queries: list[tuple[str, str]]) -> list[str]:
    """Write each query as a recording rule so ``promtool check rules`` parses it; returns the record names."""
    records = [f"dashboard:query_{i}" for i in range(len(queries))]
    rules = [{"record": record, "expr": expr} for record, (_, expr) in zip(records, queries)]
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    return records
