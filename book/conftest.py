"""pytest settings for running the book's notebooks with nbval."""

import os
from collections import defaultdict

# Notebook kernels inherit this process's environment: make torch's idle threads sleep rather
# than spin, and print evaluation lines instead of redrawing a progress bar in captured output.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("LABGPT_PROGRESS", "0")
# Sections that download (the real GPT-2) are skipped: the suite must run offline, in budget.
os.environ.setdefault("LABGPT_OFFLINE", "1")

_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    # Setup, call and teardown of every cell; the kernel starts in the first cell's setup.
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _seconds:
        return
    terminalreporter.section("notebook execution times")
    for path, seconds in sorted(_seconds.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}")
    terminalreporter.write_line(f"{sum(_seconds.values()):7.1f} s  all notebooks")
