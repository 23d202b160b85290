import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_runtime_refuses_to_start_without_gevent_patching(tmp_path):
    code = (
        "from peppasync.config import parse_config\n"
        "from peppasync.runtime import Runtime\n"
        f"Runtime(parse_config({{'store': {{'url': 'sqlite:///{tmp_path}/x.db'}}}}, environ={{}})).start()\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )

    assert result.returncode != 0
    assert "RuntimeStartError: gevent is not monkey-patched" in result.stderr
    assert not (tmp_path / "x.db").exists()
