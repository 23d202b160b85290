"""The alert rules: valid for promtool, tested firing and not firing, annotated, and on exported metrics."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

import yaml

from tests.deploy.promql import (
    ROOT,
    RULE_TESTS,
    RULES,
    RUNBOOKS,
    SCRAPE_SERIES,
    load_rule_tests,
    load_rules,
    metric_names,
    run_promtool,
)

ALERTS = sorted({rule["alert"] for rule in load_rules()})


def test_the_rule_file_passes_promtool_check_rules_with_every_lint(needs_promtool):
    result = run_promtool("check", "rules", "--lint=all", "--lint-fatal", str(RULES))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_rule_unit_tests_pass(needs_promtool):
    result = run_promtool("test", "rules", *map(str, RULE_TESTS))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS)


def test_every_alert_is_tested_both_firing_and_not_firing():
    firing: set[str] = set()
    quiet: set[str] = set()
    for path, doc in load_rule_tests():
        assert any(Path(f).resolve() == RULES for f in (path.parent / r for r in doc["rule_files"])), path
        for case in doc["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])

    assert sorted(set(ALERTS) - firing) == []
    assert sorted(set(ALERTS) - quiet) == []
    assert sorted((firing | quiet) - set(ALERTS)) == []


def _mutated_rule_tests(tmp_path: Path, alert: str, mutate: str) -> subprocess.Popen[str]:
    """Start ``promtool test rules`` on copies of the tests naming ``alert``, with that alert's rule broken."""
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == alert:
                rule["expr"] = "vector(1) == 0" if mutate == "never" else f"({rule['expr']}) or on() vector(1)"
    workdir = tmp_path / f"{alert}-{mutate}"
    (workdir / "rules").mkdir(parents=True)
    (workdir / "tests").mkdir()
    (workdir / "rules" / RULES.name).write_text(yaml.safe_dump(doc), encoding="utf-8")
    copies = []
    for path, test_doc in load_rule_tests():
        cases = []
        for case in test_doc["tests"]:
            checks = [c for c in case.get("alert_rule_test", []) if c["alertname"] == alert]
            if checks:
                cases.append({**case, "alert_rule_test": checks, "promql_expr_test": []})
        if cases:
            copy = workdir / "tests" / path.name
            copy.write_text(yaml.safe_dump({**test_doc, "tests": cases}), encoding="utf-8")
            copies.append(str(copy))
    assert copies, f"no rule test names {alert}"
    return subprocess.Popen(
        ["promtool", "test", "rules", *copies], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_the_rule_tests_fail_when_an_alert_never_fires_or_always_fires(needs_promtool, tmp_path):
    runs = {
        (alert, mutate): _mutated_rule_tests(tmp_path, alert, mutate)
        for alert in ALERTS
        for mutate in ("never", "always")
    }

    survived = []
    for (alert, mutate), proc in runs.items():
        output, _ = proc.communicate(timeout=120)
        if proc.returncode == 0 or f"alertname: {alert}" not in output:
            survived.append(f"{alert} ({mutate} fires)")

    assert survived == []


def test_every_rule_has_a_severity_summary_description_and_runbook():
    problems = []
    for rule in load_rules():
        name = rule["alert"]
        if rule.get("labels", {}).get("severity") not in ("critical", "warning"):
            problems.append(f"{name}: severity must be critical or warning")
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            if not str(annotations.get(key, "")).strip():
                problems.append(f"{name}: no {key} annotation")
        if "\n" in annotations.get("summary", ""):
            problems.append(f"{name}: summary must be one line")

    assert problems == []


def test_alert_names_are_camel_case_with_the_component_prefix():
    assert [a for a in ALERTS if not re.fullmatch(r"Peppasync(?:[A-Z][a-z0-9]*|SLO)+", a)] == []


def test_every_runbook_url_in_the_repository_rules_is_its_alerts_page_in_the_repository() -> None:
    problems = []
    for rule in load_rules():
        url = rule["annotations"]["runbook_url"]
        if url != f"docs/runbooks/{rule['alert']}.md":
            problems.append(f"{rule['alert']}: {url}")
        elif not (ROOT / url).is_file():
            problems.append(f"{rule['alert']}: {url} does not exist")

    assert problems == []
    assert RUNBOOKS.is_dir()


def test_every_metric_a_rule_reads_is_exported(exported):
    missing: dict[str, set[str]] = defaultdict(set)
    for rule in load_rules():
        for name in metric_names(rule["expr"]) - exported - SCRAPE_SERIES:
            missing[name].add(rule["alert"])

    assert dict(missing) == {}
