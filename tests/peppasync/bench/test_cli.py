"""``peppasync bench``: short forms of both runs, so that a regression fails CI, and bad input."""

from __future__ import annotations

import json

import pytest

from peppasync.cli.main import run


@pytest.mark.parametrize("argv, message", [
    (["bench", "black-friday", "--orders", "0"], "argument --orders: expected a whole number of at least 1, got '0'"),
    (["bench", "chaos", "--rounds", "-1"], "argument --rounds: expected a whole number of at least 1, got '-1'"),
    (["bench", "chaos", "--time-scale", "0"], "argument --time-scale: expected a positive number, got '0'"),
])
def test_bad_numbers_are_a_usage_error_that_says_what_was_expected(argv, message, capsys):
    code = run(argv)

    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["bench", "black-friday", "--nodes", "3"],
     "--nodes 3 needs a PostgreSQL database the nodes share: add --postgres postgresql://USER@HOST:PORT/DB"),
    (["bench", "chaos", "--nodes", "3", "--postgres", "sqlite:///x.db"],
     "--postgres expects postgresql://USER@HOST:PORT/DB, got 'sqlite:///x.db'"),
    (["bench", "chaos", "--nodes", "0"], "argument --nodes: expected a whole number of at least 1, got '0'"),
])
def test_several_nodes_without_a_postgresql_database_is_a_usage_error_that_says_what_to_add(argv, message, capsys):
    code = run(argv)

    assert code == 2
    assert message in capsys.readouterr().err


def test_a_short_black_friday_run_loses_and_duplicates_nothing_and_reports_every_figure(tmp_path, capsys):
    report = tmp_path / "black-friday.json"

    code = run(["bench", "black-friday", "--orders", "120", "--time-scale", "40", "--baseline-sample", "5",
                "--dir", str(tmp_path / "runs"), "--json", str(report)])

    out = capsys.readouterr().out
    assert code == 0, out
    figures = json.loads(report.read_text())
    assert (figures["lost"], figures["duplicates"], figures["wrong_lines"]) == (0, 0, 0)
    assert figures["quarantined_found"] == figures["quarantined_expected"] == figures["malformed"] > 0
    assert figures["erp_calls"] > figures["valid"] and figures["physical_limit_seconds"] > 0
    assert figures["baseline"]["projected"] and figures["baseline"]["orders_measured"] == 5
    assert figures["lag_p99_seconds"] >= figures["lag_p50_seconds"] > 0
    assert figures["lag_p99_without_poison_seconds"] > 0
    by_event = figures["margin_lag_by_event"]
    assert by_event["sale"]["events"] > 0 and sum(e["events"] for e in by_event.values()) == figures["margin_events"]
    assert all(e["p99_seconds"] >= e["p50_seconds"] >= 0 for e in by_event.values())
    full = figures["time_to_full_consistency_seconds"]
    assert full >= figures["erp_seconds"] and figures["wms_calls"] >= figures["wms_orders"] > 0
    assert figures["binding_limit_seconds"] == max(figures["physical_limit_seconds"],
                                                   figures["wms_physical_limit_seconds"])
    assert figures["full_efficiency"] == pytest.approx(figures["binding_limit_seconds"] / full, abs=1e-3)
    ceiling = figures["client_ceiling"]
    assert 0.5 < ceiling["occupancy"] < 1.0 and ceiling["gap_ms"] > 0 and ceiling["calls"] > ceiling["concurrency"]
    assert figures["efficiency_of_client_ceiling"] == pytest.approx(figures["efficiency"] / ceiling["occupancy"],
                                                                     abs=1e-3)
    split = figures["erp_call_split_ms"]  # the ERP's own time, the way there and back, between calls
    assert split["erp"] == pytest.approx(figures["erp_mean_latency_seconds"] * 1000, abs=0.1)
    assert split["there_and_back"] > 0 and figures["engine_hub_lag_mean_ms"] >= 0
    assert sum(split.values()) == pytest.approx(
        figures["erp_mean_latency_seconds"] * 1000 / figures["efficiency"], rel=0.01)
    slots = figures["erp_slots_in_use"]  # while the webhooks arrive, and afterwards
    assert 0 < slots["arriving"] <= figures["erp_concurrency_limit"] and 0 < slots["after"] <= 10
    pauses = figures["sandbox_gc_pauses"]
    assert pauses["total_seconds"] >= pauses["longest_seconds"] >= 0 and pauses["count"] >= 0
    engine_pauses = figures["engine_gc_pauses"]  # read from the engine's metrics (120 orders may need none)
    assert engine_pauses.keys() == {"count", "total_seconds", "full"} and min(engine_pauses.values()) >= 0
    assert figures["sandbox_hub_lag_mean_ms"] >= 0  # sampled four times a second through the run
    for label in ("physical limit R*L/C", "WMS physical limit (calls x window / limit)",
                  "time to full consistency (every valid order in the ERP and the WMS, every shipment fulfilled)",
                  "  by event: p99 (events)", "efficiency (limit / measured)", "synchronous baseline (projected)",
                  "speed-up over the baseline", "ERP 429s (share of calls)", "order-to-ERP lag p50 / p99",
                  "p99 with poison / without", "peak RSS of the engine",
                  "a client with nothing else to do: share of R*L/C (per call, ms there and back)",
                  "efficiency against that client's", "the sandbox's own GC pauses (count / total / longest)",
                  "an ERP slot's time per call, ms: the ERP's own / there and back / between calls",
                  "the ERP's slots in use: while the orders arrive / afterwards",
                  "the engine's hub: a timer woken late by, mean",
                  "the engine's GC pauses until then (count / total / full collections)",
                  "the sandbox's hub (the simulators' side of every call): woken late by, mean"):
        assert label in out
    assert "orders lost  " in out and "target == 0: met" in out


def test_a_short_chaos_round_heals_with_nothing_lost_duplicated_or_mismatched(tmp_path, capsys):
    report = tmp_path / "chaos.json"

    code = run(["bench", "chaos", "--rounds", "1", "--orders", "60", "--time-scale", "40",
                "--dir", str(tmp_path / "runs"), "--json", str(report)])

    out = capsys.readouterr().out
    assert code == 0, out
    (round_,) = json.loads(report.read_text())["rounds"]
    assert round_["kills"] == 2 and len(round_["erp_bursts"]) == 2
    assert (round_["lost"], round_["duplicated"], round_["mismatched"]) == (0, 0, 0)
    assert round_["heal_seconds"] is not None
    assert "1 of 1 rounds healed with nothing lost, duplicated or mismatched" in out


def test_a_short_chaos_round_with_business_central_survives_sigkills_with_every_order_in_it_once(tmp_path, capsys):
    report = tmp_path / "chaos.json"

    code = run(["bench", "chaos", "--rounds", "1", "--orders", "60", "--time-scale", "40", "--erp",
                "business_central", "--dir", str(tmp_path / "runs"), "--json", str(report)])

    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(report.read_text())
    (round_,) = result["rounds"]
    assert result["options"]["erp"] == "business_central" and "ERP business_central" in out
    assert round_["kills"] == 2
    assert (round_["lost"], round_["duplicated"], round_["mismatched"]) == (0, 0, 0)
    assert round_["consistency"]["erp_duplicate_creates"] == round_["consistency"]["wrong_lines"] == 0


def test_a_short_black_friday_run_with_business_central_loses_and_duplicates_nothing(tmp_path, capsys):
    report = tmp_path / "black-friday.json"

    code = run(["bench", "black-friday", "--orders", "80", "--time-scale", "40", "--baseline-sample", "5",
                "--no-clean-run", "--erp", "business_central", "--dir", str(tmp_path / "runs"),
                "--json", str(report)])

    out = capsys.readouterr().out
    assert code == 0, out
    figures = json.loads(report.read_text())
    assert figures["erp"] == "business_central"
    assert (figures["lost"], figures["duplicates"], figures["wrong_lines"]) == (0, 0, 0)
    assert figures["quarantined_found"] == figures["quarantined_expected"]
    assert figures["baseline"]["orders_measured"] == 5 and figures["baseline"]["calls"] > 5
    assert 0.5 < figures["client_ceiling"]["occupancy"] < 1.0  # the probe syncs Business Central orders too
