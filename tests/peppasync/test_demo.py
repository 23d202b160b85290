"""`peppasync demo` needs nothing set up: the sandbox supplies every URL and credential."""

import os
import subprocess
import sys

import pytest

from tests.peppasync.serving import ROOT, free_port


@pytest.mark.slow
def test_demo_runs_to_a_consistent_end_with_no_configuration_file_and_no_variables(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PEPPASYNC_")}

    result = subprocess.run(
        [sys.executable, "-m", "peppasync", "demo", "--orders", "20", "--time-scale", "50",
         "--listen", f"127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**environ, "PYTHONPATH": str(ROOT)},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "CONSISTENT: every valid order in the ERP" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [".peppasync-demo"]


@pytest.mark.slow
def test_demo_with_business_central_runs_to_a_consistent_end_and_names_the_erp(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PEPPASYNC_")}

    result = subprocess.run(
        [sys.executable, "-m", "peppasync", "demo", "--orders", "20", "--time-scale", "50", "--erp",
         "business_central", "--listen", f"127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**environ, "PYTHONPATH": str(ROOT)},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERP business_central" in result.stdout and "Business Central http://" in result.stdout
    assert "CONSISTENT: every valid order in the ERP" in result.stdout


@pytest.mark.slow
def test_the_build_to_order_demo_ships_the_approved_orders_holds_the_rejected_one_and_shows_one_breach(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PEPPASYNC_")}

    result = subprocess.run(
        [sys.executable, "-m", "peppasync", "demo", "--bto", "--orders", "6", "--listen", f"127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**environ, "PYTHONPATH": str(ROOT)},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("WMS shipped, ERP approved, Shopify fulfilled") == 5
    assert "design rejected by Bob (design)" in result.stdout
    assert "WMS on_hold (design rejected by Bob (design): the customer withdrew the artwork)" in result.stdout
    assert result.stdout.count("1 SLA breach") == 1
    assert "AS DESIGNED" in result.stdout
