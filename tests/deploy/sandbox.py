"""The unit's system-call filter and memory protection, applied to a command as systemd applies them.

The tests cannot start the unit (systemd is not PID 1 here), but the two
directives that break Python services in practice can be reproduced on a plain
process: the system-call allow-list, built with libseccomp from systemd's own
group definitions (``systemd-analyze syscall-filter``) the way systemd builds it,
refused calls failing with EPERM as ``SystemCallErrorNumber=EPERM`` says; and
``MemoryDenyWriteExecute=``, through the kernel's ``PR_SET_MDWE`` (Linux 6.3),
which refuses the same writable-and-executable mappings.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import subprocess
from pathlib import Path

# Runs as ``python LAUNCHER SYSCALLS_FILE COMMAND...``: restrict itself, then exec COMMAND.
LAUNCHER = '''
import ctypes, os, sys

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_NO_NEW_PRIVS, PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 38, 65, 1
SCMP_ACT_ALLOW, SCMP_ACT_ERRNO_EPERM = 0x7FFF0000, 0x00050000 | 1

def check(ok, what):
    if not ok:
        raise OSError(ctypes.get_errno(), what)

check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS")
check(libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) == 0, "PR_SET_MDWE")
seccomp = ctypes.CDLL("libseccomp.so.2")
seccomp.seccomp_init.restype = ctypes.c_void_p
seccomp.seccomp_init.argtypes = [ctypes.c_uint32]
seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
seccomp.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
ctx = seccomp.seccomp_init(SCMP_ACT_ERRNO_EPERM)
with open(sys.argv[1]) as names:
    for name in names.read().split():
        number = seccomp.seccomp_syscall_resolve_name(name.encode())
        if number == -1:  # not a system call of this architecture; systemd skips it too
            continue
        check(seccomp.seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 0) == 0, f"seccomp_rule_add {name}")
check(seccomp.seccomp_load(ctx) == 0, "seccomp_load")
os.execv(sys.argv[2], sys.argv[2:])
'''


def unavailable() -> str | None:
    """Why the filter cannot be applied here, or None when it can."""
    if shutil.which("systemd-analyze") is None:
        return "systemd-analyze is not installed (CI installs it: .ci/run, Debian package systemd)"
    if ctypes.util.find_library("seccomp") is None:
        return "libseccomp is not installed (a dependency of Debian's systemd package)"
    libc = ctypes.CDLL(None, use_errno=True)
    # PR_GET_MDWE (66) fails with EINVAL on kernels before 6.3.
    if libc.prctl(66, 0, 0, 0, 0) < 0:
        return "the kernel has no PR_SET_MDWE (Linux 6.3+) to stand in for MemoryDenyWriteExecute="
    return None


def syscall_groups() -> dict[str, list[str]]:
    """systemd's system-call groups (``@system-service`` ...), each with its members, groups included."""
    output = subprocess.run(
        ["systemd-analyze", "syscall-filter"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif not line.strip() or line.startswith("#"):
            current = None
        elif current is not None and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def allowed_syscalls(filters: list[str]) -> set[str]:
    """The system calls a unit's ``SystemCallFilter=`` lines allow, read in order as systemd reads them."""
    groups = syscall_groups()

    def expand(names: list[str]) -> set[str]:
        out: set[str] = set()
        for name in names:
            out |= expand(groups[name]) if name.startswith("@") else {name}
        return out

    allowed: set[str] = set()
    for line in filters:
        deny = line.startswith("~")
        names = expand(line.removeprefix("~").split())
        allowed = allowed - names if deny else allowed | names
    return allowed


def sandboxed(python: str, syscalls: set[str], directory: Path) -> list[str]:
    """The command prefix that runs a command under the filter and memory protection."""
    launcher = directory / "sandbox-launcher.py"
    launcher.write_text(LAUNCHER, encoding="utf-8")
    names = directory / "sandbox-syscalls.txt"
    names.write_text("\n".join(sorted(syscalls)) + "\n", encoding="utf-8")
    return [python, "-I", str(launcher), str(names)]
