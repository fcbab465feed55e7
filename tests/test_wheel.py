"""The package alone: ``python -m build`` makes a wheel and an sdist holding the package data,
and the wheel, installed into a clean venv, runs the getting-started chapter outside the
repository (data, tokenizer ranks and recorded results all come from the installed wheel).

Marked slow (a venv and an install, about a minute); `.ci/run` runs it as its own stage."""

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ("labgpt/data/SOURCES.md", "labgpt/data/records/SHA256SUMS",
        "labgpt/data/records/aligned_models.safetensors")

pytestmark = pytest.mark.slow


def run(*args, cwd=None):
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_wheel_holds_the_data_and_runs_a_chapter_alone(tmp_path):
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--outdir", dist, ROOT)
    wheel, = dist.glob("labgpt-*.whl")
    sdist, = dist.glob("labgpt-*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    tiktoken = [n for n in names if n.endswith(".tiktoken")]
    assert all(d in names for d in DATA) and tiktoken, sorted(n for n in names if "data" in n)
    with tarfile.open(sdist) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    assert all(d in members for d in DATA)

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "torch==2.13.0")  # the CPU wheel first
    run(python, "-m", "pip", "install", "-q", wheel)
    chapter = tmp_path / "chapter"
    chapter.mkdir()
    (chapter / "getting_started.ipynb").write_bytes(
        (ROOT / "book" / "getting_started.ipynb").read_bytes())
    script = (
        "import labgpt, nbformat\n"
        "from nbclient import NotebookClient\n"
        "assert 'site-packages' in labgpt.__file__, labgpt.__file__\n"
        "nb = nbformat.read('getting_started.ipynb', as_version=4)\n"
        "NotebookClient(nb, timeout=300, kernel_name='python3').execute()\n"
        "print('ran', len(nb.cells), 'cells from', labgpt.__file__)\n"
    )
    out = run(python, "-c", script, cwd=chapter)
    assert "ran" in out and "site-packages" in out
