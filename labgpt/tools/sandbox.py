"""Run one submission where it can reach nothing but its own folder.

The grader executes a student's notebook, and a student's code can do anything its process
can. So each submission runs in its own empty working folder holding only its merged notebook,
and, where the machine has bubblewrap (Debian's ``bubblewrap`` package, ``bwrap``), inside a
sandbox that shows it:

- the system and this Python read-only (``/usr``, ``/lib``, ``/etc``, the interpreter, the
  environment and the ``labgpt`` package, and nothing else of the file system: not the
  instructor's sources, not the other submissions, not the report folder, not the home folder);
- its working folder, the one place it can write, and an empty ``/tmp``;
- its own process tree (a fresh ``/proc``: the grader's command line is not visible), no
  network, no inherited environment (a minimal one is set), the unprivileged user ``nobody``
  (uid 65534), and a new session.

When the sandbox's first process ends, the kernel kills every process left in it, so nothing
a submission started outlives its grading. Limits on memory, file size and (for a grader that
is not root) the number of processes apply in both cases.

Without bubblewrap the fallback is weaker, and the report says so (``sandbox: none``): the
submission still runs in its own empty folder, with a minimal environment, in its own session
whose processes are all killed afterwards, under the same limits, but it can read whatever the
grader's user can read, and a process that leaves its session escapes the clean-up.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

NOBODY = 65534
INSIDE = "/submission"  # where the working folder appears inside the sandbox
SYSTEM = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc")


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 4096
    file_mb: int = 256  # the largest file a submission may write
    processes: int = 256  # more than the grader's user already runs


@dataclass
class Outcome:
    returncode: int | None  # None: killed at the time limit
    stderr: str
    sandbox: str  # "bubblewrap" or "none"


def _package_dir() -> Path:
    import labgpt

    return Path(labgpt.__file__).resolve().parent


def _readable() -> list[str]:
    """What the sandbox shows read-only: the system, the interpreter, its environment and the
    labgpt package (an editable install's source folder holds only the package)."""
    paths = [p for p in SYSTEM if Path(p).exists()]
    python = Path(os.path.realpath(sys.executable))
    for p in (sys.prefix, sys.base_prefix, str(python.parent.parent), str(_package_dir())):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in paths):
            paths.append(p)
    return paths


def environment(home: str = "/tmp") -> dict[str, str]:
    """The environment a submission sees: nothing inherited but the locale. ``home`` is its
    own (IPython's and matplotlib's settings go there, so no submission leaves a startup
    script for the next)."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": home,
           "OMP_WAIT_POLICY": "PASSIVE", "LABGPT_PROGRESS": "0", "LABGPT_SKIP_GPU": "1",
           "LABGPT_OFFLINE": "1", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    env["LANG"] = os.environ.get("LANG", "C.UTF-8")
    return env


def bubblewrap_command(argv: list[str], work: Path) -> list[str]:
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
           "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
           # Mounts apply in order: the empty /tmp first, so that a checkout or an environment
           # that lives under /tmp is bound on top of it rather than hidden by it.
           "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in _readable():
        cmd += ["--ro-bind", path, path]
    cmd += ["--bind", str(work), INSIDE, "--chdir", INSIDE, "--clearenv"]
    for key, value in environment().items():
        cmd += ["--setenv", key, value]
    return [*cmd, "--", *argv]


@lru_cache(maxsize=1)
def bubblewrap_works() -> bool:
    """Whether ``bwrap`` exists and can build the sandbox on this machine (user namespaces
    may be forbidden, in some containers for instance)."""
    if shutil.which("bwrap") is None:
        return False
    probe = bubblewrap_command([sys.executable, "-c", "import labgpt"], Path("/tmp"))
    try:
        return subprocess.run(probe, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _user_processes() -> int:
    uid = os.getuid()
    return sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid)


def _owner(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:
        return None


def _set_limits(limits: Limits, processes: int | None):
    def apply():
        memory = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        size = limits.file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        if processes is not None:  # counted per user: root is not limited by it
            resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    return apply


def run(argv: Callable[[str], list[str]], work: Path, timeout: float,
        limits: Limits = Limits(), sandbox: bool = True, stdin: str = "") -> Outcome:
    """Run the command ``argv(folder)`` for a submission whose folder is ``work``, its only
    writable place (``folder`` is where the command sees it: :data:`INSIDE` in the sandbox),
    with ``stdin`` as its input. Every process it started is killed when it ends or at
    ``timeout`` seconds."""
    use_bwrap = sandbox and bubblewrap_works()
    command = (bubblewrap_command(argv(INSIDE), work) if use_bwrap else argv(str(work)))
    processes = None if os.getuid() == 0 else _user_processes() + limits.processes
    home = "/tmp" if use_bwrap else str(work)  # the sandbox's /tmp is its own; else its folder
    proc = subprocess.Popen(command, cwd=work, env=environment(home), start_new_session=True,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=_set_limits(limits, processes))
    try:
        _, stderr = proc.communicate(input=stdin, timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code, stderr = None, ""
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # everything left in its session
        except ProcessLookupError:
            pass
        proc.wait()
    return Outcome(code, (stderr or "")[-4000:], "bubblewrap" if use_bwrap else "none")
