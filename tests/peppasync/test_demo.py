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
