"""Sphinx extension: the environment that notebook kernels inherit during the book build.

Kernels are started by this process, so variables set here reach every executed notebook:
torch's idle OpenMP threads sleep instead of spinning (on 2 cores spinning stalls for seconds),
and training prints one line per evaluation instead of redrawing a progress bar, which would
leave every redraw as a separate line in the rendered page.
"""

import os


def setup(app):
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("LABGPT_PROGRESS", "0")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
