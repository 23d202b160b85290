"""The suite runs only under scripts/test's gevent patching; pytest alone says so instead of hanging."""

from __future__ import annotations

import subprocess
import sys

from tests.peppasync.serving import ROOT


def test_pytest_without_the_launcher_refuses_to_run_and_names_the_command_to_use() -> None:
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/conftest.py"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)

    assert result.returncode == 4, result.stdout + result.stderr  # pytest's usage error
    assert "run them with scripts/test" in result.stderr
