"""Static checks of the book: table of contents, stored outputs, and the chapter convention."""

from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("**/*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            for key in ("chapters", "sections", "parts"):
                walk(entry.get(key, []))

    walk(toc.get("parts", []) + toc.get("chapters", []))
    return files


def resolve(entry: str) -> Path | None:
    for suffix in ("", ".md", ".ipynb"):
        path = ROOT / f"{entry}{suffix}"
        if path.is_file():
            return path
    return None


def test_every_toc_entry_exists():
    missing = [entry for entry in toc_files() if resolve(entry) is None]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_every_notebook_is_in_the_toc():
    listed = {resolve(entry) for entry in toc_files()}
    orphans = [str(p.relative_to(ROOT)) for p in NOTEBOOKS if p not in listed]
    assert not orphans, f"notebooks missing from _toc.yml: {orphans}"


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return nbformat.read(request.param, as_version=4)


def test_outputs_are_stripped(notebook):
    """Stored outputs would go stale and bloat diffs; run `nbstripout book/*.ipynb`."""
    dirty = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
             and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"cells {dirty} have stored outputs; run nbstripout on the notebook"


def is_tool_page(notebook) -> bool:
    """Pages about the tooling (the homework tool) rather than chapters: no exercises."""
    return notebook.metadata.get("labgpt", {}).get("page") == "tool"


def test_chapter_convention(notebook):
    sources = [cell.source for cell in notebook.cells]
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    for heading in ("Learning goals", "Summary", "References"):
        assert heading in markdown, f"no '{heading}' section"
    assert any("assert " in s for s in sources), "no measured claim is asserted"
    if not is_tool_page(notebook):
        assert any("### BEGIN SOLUTION" in s and "### END SOLUTION" in s for s in sources), \
            "no exercise in nbgrader markup"
        assert any("labgpt.checks" in s for s in sources), "no checker call"
        for cell in notebook.cells:
            if "### BEGIN SOLUTION" in cell.source:
                assert cell.metadata.get("nbgrader", {}).get("solution"), \
                    "a solution cell without nbgrader metadata"
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    first_torch = next((i for i, s in enumerate(code) if "import torch" in s), None)
    first_labgpt = next(i for i, s in enumerate(code) if "import labgpt" in s)
    if first_torch is not None:
        # Same cell is fine when labgpt's import line comes first within it.
        assert (first_labgpt, code[first_labgpt].find("import labgpt")) <= (
            first_torch, code[first_torch].find("import torch")
        ), "import labgpt before torch so OMP_WAIT_POLICY=PASSIVE takes effect"
