"""deploy/prometheus/render-rules: the alert rules with runbook links under the operator's base URL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.promql import DEPLOY, ROOT, RULE_TESTS, RULES, load_rules, run_promtool

RENDER = DEPLOY / "prometheus" / "render-rules"
BASE = "https://git.example.com/ops/peppasync/-/blob/main/docs/runbooks"


def _render(*args: str) -> subprocess.CompletedProcess[str]:
    # As an operator runs it on the Prometheus host: the system's Python, no virtualenv.
    return subprocess.run([sys.executable, "-I", str(RENDER), *args], capture_output=True, text=True, timeout=60)


def _without_runbooks(doc: dict[str, Any]) -> dict[str, Any]:
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule["annotations"].pop("runbook_url")
    return doc


def test_every_runbook_url_is_built_from_the_base_url_given(tmp_path: Path) -> None:
    output = tmp_path / "peppasync-alerts.yml"

    result = _render("--runbook-base-url", BASE + "/", "--output", str(output))

    assert result.returncode == 0, result.stderr
    rendered = [rule for group in yaml.safe_load(output.read_text())["groups"] for rule in group["rules"]]
    assert [r["annotations"]["runbook_url"] for r in rendered] == [f"{BASE}/{r['alert']}.md" for r in load_rules()]
    assert (ROOT / "docs" / "runbooks" / "PeppasyncDown.md").is_file()


def test_only_the_runbook_urls_change(tmp_path: Path) -> None:
    output = tmp_path / "peppasync-alerts.yml"

    _render("--runbook-base-url", BASE, "--output", str(output))

    assert _without_runbooks(yaml.safe_load(output.read_text())) == _without_runbooks(yaml.safe_load(RULES.read_text()))


def test_the_rendered_rules_pass_promtool_check_rules_with_every_lint(needs_promtool: str, tmp_path: Path) -> None:
    output = tmp_path / "peppasync-alerts.yml"
    _render("--runbook-base-url", BASE, "--output", str(output))

    result = run_promtool("check", "rules", "--lint=all", "--lint-fatal", str(output))

    assert result.returncode == 0, result.stdout + result.stderr


def test_without_a_base_url_the_links_are_the_pages_in_the_repository_as_in_its_rules() -> None:
    result = _render()

    assert result.returncode == 0, result.stderr
    assert result.stdout == RULES.read_text(encoding="utf-8")


def test_no_rule_or_rule_test_links_to_a_placeholder_host() -> None:
    files = [RULES, *RULE_TESTS]

    assert [f.name for f in files if "peppasync.example" in f.read_text(encoding="utf-8")] == []


def test_a_base_url_that_is_not_http_or_that_carries_a_template_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    output = tmp_path / "peppasync-alerts.yml"

    results = [
        _render("--runbook-base-url", base, "--output", str(output))
        for base in ("wiki.example.com/runbooks", "file:///srv/docs", "https://{{ $externalURL }}/docs", "https://x/a b")
    ]

    assert [r.returncode for r in results] == [2, 2, 2, 2]
    assert all("--runbook-base-url" in r.stderr for r in results)
    assert not output.exists()


def test_a_rules_file_with_an_alert_lacking_its_runbook_url_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(RULES.read_text(encoding="utf-8").replace("runbook_url:", "see_also:", 1), encoding="utf-8")
    output = tmp_path / "peppasync-alerts.yml"

    result = _render(str(broken), "--runbook-base-url", BASE, "--output", str(output))

    assert result.returncode == 1
    assert "PeppasyncDown" in result.stderr
    assert not output.exists()
