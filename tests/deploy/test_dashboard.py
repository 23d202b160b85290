"""The Grafana dashboard and its provisioning: portable, parseable, and on metrics the server exports."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from peppasync.metrics import Metrics

from tests.deploy.promql import (
    DASHBOARD,
    DEPLOY,
    SCRAPE_SERIES,
    UNIT_QUANTITIES,
    dashboard_panel,
    dashboard_panels,
    dashboard_queries,
    load_dashboard,
    metric_names,
    promql_test,
    quantity,
    run_promtool,
    substitute_variables,
    write_recording_rules,
)

DS = {"type": "prometheus", "uid": "${datasource}"}


def test_the_dashboard_has_a_prometheus_datasource_variable_and_job_and_instance_variables():
    variables = {v["name"]: v for v in load_dashboard()["templating"]["list"]}

    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["job"]["type"] == "query"
    assert variables["instance"]["type"] == "query"
    assert all(variables[n]["datasource"] == DS for n in ("job", "instance"))
    # Refresh on time range change, so a new instance shows up without a reload.
    assert all(variables[n]["refresh"] == 2 for n in ("job", "instance"))


def test_every_panel_and_target_uses_the_datasource_variable():
    dashboard = load_dashboard()

    wrong = [
        p["title"]
        for p in dashboard_panels(dashboard)
        if p.get("datasource") != DS or any(t.get("datasource") != DS for t in p["targets"])
    ]

    assert wrong == []
    # An exported __inputs placeholder breaks file provisioning.
    assert "${DS_" not in DASHBOARD.read_text(encoding="utf-8")
    assert "__inputs" not in dashboard


def test_the_dashboard_is_a_stable_read_only_file_model():
    dashboard = load_dashboard()

    assert dashboard["id"] is None
    assert 8 <= len(dashboard["uid"]) <= 40
    assert dashboard["editable"] is False
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int) and 13 <= dashboard["schemaVersion"] <= 42


def test_panels_have_titles_descriptions_units_queries_and_unique_ids():
    dashboard = load_dashboard()
    panels = dashboard_panels(dashboard)

    problems = [
        f"{p.get('title')!r}: {what}"
        for p in panels
        for what, bad in (
            ("no title", not p.get("title")),
            ("no description", not p.get("description")),
            ("no unit", not p.get("fieldConfig", {}).get("defaults", {}).get("unit")),
            ("no targets", not p.get("targets")),
            ("an empty query", any(not t.get("expr", "").strip() for t in p.get("targets", []))),
            ("duplicate refId", len({t["refId"] for t in p["targets"]}) != len(p["targets"])),
        )
        if bad
    ]
    ids = [p["id"] for p in dashboard["panels"]] + [p["id"] for p in panels if p not in dashboard["panels"]]

    assert problems == []
    assert len(ids) == len(set(ids))
    assert len({p["title"] for p in panels}) == len(panels)


def test_panels_fit_the_24_column_grid_without_overlapping():
    dashboard = load_dashboard()
    cells: dict[tuple[int, int], str] = {}
    overlaps = []

    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] >= 1 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                if (x, y) in cells:
                    overlaps.append(f"{panel['title']!r} over {cells[(x, y)]!r}")
                cells[(x, y)] = panel["title"]

    assert sorted(set(overlaps)) == []


def _drawn_unit(panel: dict[str, Any], ref_id: str) -> str:
    """The unit Grafana draws a target's series in: the panel's, unless an override for that query sets one."""
    unit = str(panel["fieldConfig"]["defaults"]["unit"])
    for override in panel["fieldConfig"].get("overrides", []):
        if override["matcher"] == {"id": "byFrameRefID", "options": ref_id}:
            unit = next((str(p["value"]) for p in override["properties"] if p["id"] == "unit"), unit)
    return unit


def test_every_panel_shows_one_unit_and_it_is_the_unit_of_what_its_queries_measure() -> None:
    wrong = []
    for panel in dashboard_panels(load_dashboard()):
        drawn = {t["refId"]: _drawn_unit(panel, t["refId"]) for t in panel["targets"]}
        if len(set(drawn.values())) > 1:
            wrong.append(f"{panel['title']!r}: one axis for {sorted(set(drawn.values()))}")
        for target in panel["targets"]:
            unit = drawn[target["refId"]]
            measured = quantity(target["expr"])
            if UNIT_QUANTITIES.get(unit) != measured:
                wrong.append(f"{panel['title']!r} {target['refId']} ({target['legendFormat']}): {measured} drawn as {unit!r}")

    assert wrong == []


def _webhook_series() -> dict[str, str]:
    """A webhook counter growing for every outcome the server counts, from both sources."""
    outcomes = {
        "shopify": ("accepted", "duplicate", "ignored", "bad_hmac", "malformed", "too_large"),
        "wms": ("accepted", "duplicate", "bad_token", "malformed"),
    }
    return {
        f'peppasync_webhooks_total{{job="peppasync", instance="node1:8470", source="{source}", '
        f'topic="t", outcome="{outcome}"}}': "0+15x40"
        for source, names in outcomes.items()
        for outcome in names
    }


def _samples(lines: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"labels": f'{{source="{source}", outcome="{outcome}"}}', "value": 1} for source, outcome in lines]


def test_the_webhooks_refused_panel_shows_refusals_and_not_duplicates_or_ignored_topics(
    needs_promtool: str, tmp_path: Path
) -> None:
    (target,) = dashboard_panel(load_dashboard(), "Webhooks refused per second")["targets"]
    # One sample per line the panel draws, whatever its rate.
    lines = f"count by (source, outcome) ({substitute_variables(target['expr'])})"
    refusals = [("shopify", "bad_hmac"), ("shopify", "malformed"), ("shopify", "too_large"),
                ("wms", "bad_token"), ("wms", "malformed")]

    result = promql_test(tmp_path, _webhook_series(), lines, "10m", _samples(refusals))

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_webhooks_accepted_panel_also_draws_duplicates_and_ignored_topics(
    needs_promtool: str, tmp_path: Path
) -> None:
    panel = dashboard_panel(load_dashboard(), "Webhooks accepted per second")
    # The series each line is drawn from, by source and outcome.
    selectors = [s for t in panel["targets"] for s in re.findall(r"peppasync_webhooks_total\{[^}]*\}", t["expr"])]
    read = " or ".join(f"count by (source, outcome) ({substitute_variables(s)})" for s in selectors)
    answered_200 = [("shopify", "accepted"), ("shopify", "duplicate"), ("shopify", "ignored"),
                    ("wms", "accepted"), ("wms", "duplicate")]

    result = promql_test(tmp_path, _webhook_series(), read, "10m", _samples(answered_200))

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_query_parses_in_promtool(needs_promtool, tmp_path):
    queries = dashboard_queries(load_dashboard())
    rules = tmp_path / "dashboard.rules.yml"
    write_recording_rules(rules, [(where, substitute_variables(expr)) for where, expr in queries])

    result = run_promtool("check", "rules", str(rules))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_the_promtool_check_catches_a_query_that_does_not_parse(needs_promtool, tmp_path):
    rules = tmp_path / "broken.rules.yml"
    write_recording_rules(rules, [("broken", "sum by (flow (rate(peppasync_messages_total[1m]))")])

    result = run_promtool("check", "rules", str(rules))

    assert result.returncode != 0


def test_every_metric_the_dashboard_reads_is_exported(exported):
    missing: dict[str, list[str]] = defaultdict(list)
    for where, expr in dashboard_queries(load_dashboard()):
        for name in metric_names(expr) - exported - SCRAPE_SERIES:
            missing[name].append(where)

    assert dict(missing) == {}


def test_every_peppasync_metric_is_on_the_dashboard():
    shown = {n for _, expr in dashboard_queries(load_dashboard()) for n in metric_names(expr)}
    exposition = Metrics(process=False).exposition().decode()
    families = re.findall(r"^# TYPE (peppasync_\w+) (\w+)$", exposition, flags=re.M)

    missing = [
        name
        for name, kind in families
        if not name.endswith("_created")
        and not ({name + "_bucket", name + "_count"} if kind == "histogram" else {name}) & shown
    ]

    assert len(families) > 20
    assert missing == []


def test_every_query_selects_the_job_and_instance_variables():
    unfiltered = []
    for where, expr in dashboard_queries(load_dashboard()):
        if where.startswith("variable"):
            continue
        for selector in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*\{[^}]*\}|[A-Za-z_:][A-Za-z0-9_:]*(?=\[)", expr):
            if 'job=~"$job"' not in selector or 'instance=~"$instance"' not in selector:
                unfiltered.append(f"{where}: {selector}")

    assert unfiltered == []


def test_counters_are_only_read_through_rate_or_increase_and_gauges_never_are(exported):
    problems = []
    for where, expr in dashboard_queries(load_dashboard()):
        for match in re.finditer(r"(\w+)\((\w+_total)\{", expr):
            if match.group(1) not in ("rate", "irate", "increase"):
                problems.append(f"{where}: {match.group(2)} inside {match.group(1)}()")
        for name in re.findall(r"(?<!\w)(\w+_total)\{", expr):
            if not re.search(rf"(rate|irate|increase)\({name}\{{", expr):
                problems.append(f"{where}: {name} read raw")
        for func, name in re.findall(r"(rate|irate|increase)\((\w+)\{", expr):
            if not name.endswith(("_total", "_bucket", "_count", "_sum")):
                problems.append(f"{where}: {func}() of gauge {name}")

    assert problems == []


def test_range_vectors_use_the_rate_interval_or_a_deliberate_long_window():
    short = [
        f"{where}: [{window}]"
        for where, expr in dashboard_queries(load_dashboard())
        for window in re.findall(r"\[([^\]]+)\]", expr)
        if window != "$__rate_interval" and not re.fullmatch(r"\d+[hdw]", window)
    ]

    assert short == []


def test_the_datasource_provisioning_file_declares_prometheus_with_a_stable_uid():
    doc = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/peppasync.yaml").read_text())

    (source,) = doc["datasources"]
    assert doc["apiVersion"] == 1
    assert source["type"] == "prometheus"
    assert source["access"] == "proxy"
    assert source["uid"] and source["url"].startswith("http")
    assert source["isDefault"] is True


def test_the_dashboard_provider_loads_files_read_only_into_a_folder():
    doc = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/peppasync.yaml").read_text())

    (provider,) = doc["providers"]
    assert doc["apiVersion"] == 1
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/")
    assert provider["allowUiUpdates"] is False
    # foldersFromFilesStructure needs folder empty; we name the folder instead.
    assert provider["folder"] and not provider["options"].get("foldersFromFilesStructure")
