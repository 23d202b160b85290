"""Runbooks: a page per alert, the same sections, and commands, queries and panels that exist."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from peppasync.cli.main import build_parser

from tests.deploy.promql import (
    ROOT,
    RUNBOOKS,
    SCRAPE_SERIES,
    dashboard_panels,
    load_dashboard,
    load_rules,
    metric_names,
    run_promtool,
    write_recording_rules,
)

SECTIONS = ("Meaning", "Impact", "Diagnosis", "Mitigation", "Escalation")
ALERTS = sorted({rule["alert"] for rule in load_rules()})
PAGES = sorted(p for p in RUNBOOKS.glob("*.md") if p.name != "README.md")
DOCS = [*PAGES, RUNBOOKS / "README.md", ROOT / "docs" / "operations.md"]
_FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.S | re.M)


def _blocks(path: Path, language: str) -> list[str]:
    return [
        re.sub(rf"^{indent}", "", body, flags=re.M)
        for indent, lang, body in _FENCE.findall(path.read_text(encoding="utf-8"))
        if lang == language
    ]


def _commands(path: Path) -> list[str]:
    """Every ``peppasync`` or ``peppasync-ops`` invocation in the page's code, pipes included."""
    text = "\n".join(_blocks(path, "sh")) + "\n" + "\n".join(re.findall(r"`([^`\n]+)`", path.read_text()))
    found = []
    for line in text.splitlines():
        for part in re.split(r"\s*(?:\||&&|;)\s*", line):
            part = part.strip()
            if part.startswith(("peppasync ", "peppasync-ops ")):
                found.append(part)
    return found


def test_every_alert_has_a_runbook_page_and_every_page_an_alert():
    assert [p.stem for p in PAGES] == ALERTS


def test_every_runbook_page_has_the_sections_in_order_under_its_alert_title():
    problems = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        headings = re.findall(r"^## (.+)$", text, flags=re.M)
        if not text.startswith(f"# {page.stem}\n"):
            problems.append(f"{page.name}: title is not the alert name")
        if [h for h in headings if h in SECTIONS] != list(SECTIONS):
            problems.append(f"{page.name}: sections {headings}")
        if "**Severity:**" not in text:
            problems.append(f"{page.name}: no severity line")

    assert problems == []


def test_the_severity_on_each_page_matches_the_rule():
    wrong = []
    for rule in load_rules():
        text = (RUNBOOKS / f"{rule['alert']}.md").read_text(encoding="utf-8")
        if f"**Severity:** {rule['labels']['severity']}" not in text:
            wrong.append(rule["alert"])

    assert wrong == []


def test_the_index_links_every_page():
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")

    assert [a for a in ALERTS if f"({a}.md)" not in index] == []


def test_every_relative_link_in_the_docs_points_to_a_file():
    broken = [
        f"{page.relative_to(ROOT)} -> {target}"
        for page in DOCS
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8"))
        if not (page.parent / target).exists()
    ]

    assert broken == []


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_every_peppasync_command_in_the_docs_is_one_the_cli_accepts(page):
    parser = build_parser()
    refused = []
    for command in _commands(page):
        argv = shlex.split(command, comments=True)[1:]
        if command.startswith("peppasync-ops ") and argv[0] in ("status", "quarantine", "connector", "migrate"):
            argv += ["--config", "/etc/peppasync/peppasync.toml"]  # as the wrapper adds it
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                parser.parse_args(argv)
        except SystemExit as exc:
            if exc.code != 0:
                refused.append(f"{command}: {err.getvalue().strip().splitlines()[-1]}")

    assert refused == []


def test_the_command_check_catches_a_command_the_cli_refuses():
    err = io.StringIO()

    with pytest.raises(SystemExit), contextlib.redirect_stderr(err):
        build_parser().parse_args(["connector", "throttle", "netsuite"])

    assert "invalid choice" in err.getvalue()


def test_every_query_in_the_runbooks_parses_and_reads_exported_metrics(needs_promtool, exported, tmp_path):
    queries = [(page.name, q.strip()) for page in DOCS if page.exists() for q in _blocks(page, "promql")]
    rules = tmp_path / "runbook.rules.yml"
    write_recording_rules(rules, queries)

    result = run_promtool("check", "rules", str(rules))
    missing = {(where, n) for where, q in queries for n in metric_names(q) - exported - SCRAPE_SERIES}

    assert [p.name for p in PAGES if not _blocks(p, "promql")] == []
    assert result.returncode == 0, result.stdout + result.stderr
    assert missing == set()


def test_every_panel_a_runbook_names_is_on_the_dashboard():
    titles = {p["title"] for p in dashboard_panels(load_dashboard())}
    unknown = [
        f"{page.name}: {title}"
        for page in DOCS
        if page.exists()
        for title in re.findall(r'panels?\s+"([^"]+)"', page.read_text(encoding="utf-8").replace("\n", " "))
        if title not in titles
    ]
    silent = [p.name for p in PAGES if not re.search(r'panels?\s+"', p.read_text(encoding="utf-8"))]

    assert unknown == []
    assert silent == []
