"""A foreign distribution that installs top-level ``actors`` over ours cannot run in the server unnoticed.

pip installs any distribution's files into site-packages/actors/ without a word,
overwriting ours, and uninstalling it deletes the files it overwrote. These tests
install the real Peppasync wheel and a foreign ``actors`` wheel into a fresh
virtualenv, as an operator would, and run ``peppasync serve`` from it.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from peppasync.installation import installation_problems

from tests.peppasync.serving import ROOT, free_port, stop_server, wait_healthy, write_config

pytestmark = pytest.mark.slow

# Its __init__ leaves a file behind in the working directory if it ever runs.
FOREIGN_FILES = {
    "actors/__init__.py": "open('foreign-code-ran', 'w').close()\n",
    "actors/order.py": "ORDER = 'not peppasync'\n",
}


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _foreign_wheel(directory: Path) -> Path:
    """A wheel of a distribution named ``actors`` with a top-level package ``actors``, as on PyPI."""
    info = "actors-0.0.1.dist-info"
    files = {
        **FOREIGN_FILES,
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: actors\nVersion: 0.0.1\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},{_digest(text.encode())},{len(text.encode())}\n" for name, text in files.items())
    path = directory / "actors-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
        wheel.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")
    return path


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The Peppasync wheel built from this checkout (a copy, so the build leaves nothing here), and the foreign one."""
    work = tmp_path_factory.mktemp("wheels")
    source = work / "source"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("peppasync", "actors", "supervisors"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(work), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    (ours,) = work.glob("peppasync-*.whl")
    return {"peppasync": ours, "actors": _foreign_wheel(work)}


class Virtualenv:
    """A fresh virtualenv with Peppasync's dependencies visible from the test environment's."""

    def __init__(self, directory: Path) -> None:
        venv.create(directory, with_pip=False)
        self.python = directory / "bin" / "python"
        purelib = subprocess.run(
            [str(self.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        self.site_packages = Path(purelib)
        # Only the dependencies come from there: this venv's own site-packages is searched first.
        (self.site_packages / "zz-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    def install(self, *args: str) -> None:
        self._pip("install", "--no-index", "--no-deps", *args)

    def uninstall(self, name: str) -> None:
        self._pip("uninstall", "--yes", name)

    def _pip(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(self.python), "--quiet", *args],
            check=True, capture_output=True, timeout=300,
        )

    def serve(self, directory: Path, port: int) -> subprocess.Popen[bytes]:
        config = write_config(directory, port)
        log = open(directory / "server.log", "wb")  # noqa: SIM115 - closed once the process has it
        proc = subprocess.Popen(
            [str(self.python.with_name("peppasync")), "serve", "--config", str(config)],
            cwd=directory, stdout=subprocess.DEVNULL, stderr=log, env={"PATH": "/usr/bin:/bin"},
        )
        log.close()
        return proc


def _refused(env: Virtualenv, directory: Path) -> tuple[int | None, str]:
    """The exit code of a serve expected to refuse at once (None if it serves instead), and its stderr."""
    proc = env.serve(directory, free_port())
    try:
        code: int | None = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = None
    return code, (directory / "server.log").read_text()


def test_serve_refuses_to_run_a_foreign_actors_package_installed_over_ours_before_any_of_it_runs(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    env = Virtualenv(tmp_path / "venv")
    env.install(str(wheels["peppasync"]))

    env.install(str(wheels["actors"]))
    code, stderr = _refused(env, tmp_path)

    assert (env.site_packages / "actors" / "order.py").read_text() == FOREIGN_FILES["actors/order.py"]  # pip said nothing
    assert code == 2, stderr
    assert "the distribution 'actors' also installs a top-level package 'actors'" in stderr
    assert "pip uninstall actors, then pip install --force-reinstall --no-deps peppasync" in stderr
    assert "actors/order.py was overwritten" in stderr
    assert not (tmp_path / "foreign-code-ran").exists()


def test_serve_names_the_files_an_uninstall_deleted_and_serves_again_after_the_reinstall_it_names(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    env = Virtualenv(tmp_path / "venv")
    env.install(str(wheels["peppasync"]))
    env.install(str(wheels["actors"]))

    env.uninstall("actors")
    code, stderr = _refused(env, tmp_path)
    env.install("--force-reinstall", str(wheels["peppasync"]))
    port = free_port()
    proc = env.serve(tmp_path, port)
    try:
        wait_healthy(port, proc)
    finally:
        stopped = stop_server(proc, tmp_path / "peppasync.toml")

    assert code == 2, stderr
    assert "actors/__init__.py was deleted since Peppasync was installed" in stderr
    assert "actors/order.py was deleted" in stderr
    assert stopped == 0


def test_the_checkout_these_tests_run_from_is_intact() -> None:
    assert installation_problems() == []
