"""Homework: make student versions of chapters and grade submissions.

    python -m labgpt.homework student book/*.ipynb -o release/
    python -m labgpt.homework grade submissions/ -o report/ [--source book/]

Exercises use nbgrader's markup and metadata, so a course that uses nbgrader can take the
notebooks as they are, but nothing here needs nbgrader, a database or a Jupyter server:

- a *solution cell* (metadata ``nbgrader.solution``) holds the answer between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``; the student version replaces it with
  ``raise NotImplementedError(...)``;
- a *check cell* (``nbgrader.grade`` with ``points``) scores its exercise: full points if it
  runs without error. Lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``
  are removed from the student version and restored at grading time. From a submission only
  the source text of its solution cells crosses over (matched by grade_id): every other cell,
  all metadata (points included) and no outputs come from the instructor's copy, which is
  validated before anything is graded, so editing a check or forging metadata does not help.

Grading runs each submission in a fresh kernel, in its own empty folder, inside the sandbox
of :mod:`labgpt.tools.sandbox` where the machine has bubblewrap (a weaker fallback otherwise,
named in the report), with a timeout per cell and per notebook and limits on memory, file size
and processes, and writes each result as soon as it is known.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import re
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from labgpt.tools import sandbox

SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*$",
                      re.M | re.S)
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?",
                    re.M | re.S)
STUB = 'raise NotImplementedError("exercise: replace this line with your solution")'


def _meta(cell) -> dict:
    """A cell's nbgrader metadata; anything that is not a dict (a malformed submission's
    ``"nbgrader": null``) counts as none."""
    meta = cell.get("metadata", {})
    meta = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return meta if isinstance(meta, dict) else {}


def _grade_id(cell) -> str | None:
    grade_id = _meta(cell).get("grade_id")
    return grade_id if isinstance(grade_id, str) and grade_id else None


def validate_source(nb: nbformat.NotebookNode, name: str) -> None:
    """Check an instructor's notebook before anything is graded against it: every exercise
    cell has a string ``grade_id``, ids are unique, and every check's ``points`` is a finite,
    non-negative number. Raises ValueError naming the cell."""
    seen = set()
    for i, cell in enumerate(nb.cells):
        if not (is_solution(cell) or is_check(cell)):
            continue
        grade_id = _grade_id(cell)
        if grade_id is None:
            raise ValueError(f"{name}, cell {i}: an exercise cell needs a string grade_id, got "
                             f"{_meta(cell).get('grade_id')!r}")
        if grade_id in seen:
            raise ValueError(f"{name}, cell {i}: grade_id {grade_id!r} is used twice")
        seen.add(grade_id)
        if is_check(cell):
            points = _meta(cell).get("points", 0)
            if (isinstance(points, bool) or not isinstance(points, (int, float))
                    or not math.isfinite(points) or points < 0):
                raise ValueError(f"{name}, cell {i} ({grade_id}): points must be a finite, "
                                 f"non-negative number, got {points!r}")


def is_solution(cell) -> bool:
    return cell.cell_type == "code" and bool(_meta(cell).get("solution"))


def is_check(cell) -> bool:
    return cell.cell_type == "code" and bool(_meta(cell).get("grade"))


# --- student versions ----------------------------------------------------------------------


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy with solutions stubbed, hidden tests removed and every output cleared."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if is_solution(cell):
            cell.source = SOLUTION.sub(lambda m: m.group(1) + STUB, cell.source)
        if is_check(cell):
            cell.source = HIDDEN.sub("", cell.source)
        cell.outputs = []
        cell.execution_count = None
    return nb


def make_student(notebooks: list[Path], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        target = out / path.name
        nbformat.write(student_version(nb), target)
        written.append(target)
        print(f"student version: {target}")
    return written


# --- grading -------------------------------------------------------------------------------


@dataclass
class ExerciseScore:
    grade_id: str
    points: float
    max_points: float
    error: str = ""


@dataclass
class Grade:
    submission: str
    score: float = 0.0
    max_score: float = 0.0
    status: str = "graded"  # graded | timeout | kernel died | unreadable | no source
    reason: str = ""
    sandbox: str = ""  # how it ran: "bubblewrap", or "none" (labgpt.tools.sandbox)
    exercises: list[ExerciseScore] = field(default_factory=list)


def _first_error(cell) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text = f"{output.get('ename')}: {output.get('evalue')}"[:300]
            return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", text)  # no control characters
    return ""


def _source_text(cell) -> str | None:
    """A submitted cell's source as text, or None when it is neither a string nor a list of
    strings (a malformed submission)."""
    source = cell.get("source")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return source if isinstance(source, str) else None


def _merge_into_source(submission, source) -> tuple[nbformat.NotebookNode, list[str]]:
    """The instructor's notebook with the *source text* of the student's solution cells put
    in, matched by grade_id; returns it and the grade_ids of solutions the submission lacks.
    Nothing else crosses over: every other cell, all metadata (points included) and no
    outputs come from the instructor's copy."""
    by_id = {}
    for cell in submission.cells:
        grade_id, text = _grade_id(cell), _source_text(cell)
        if grade_id is not None and text is not None and cell.get("cell_type") == "code":
            by_id.setdefault(grade_id, text)
    missing = []
    merged = copy.deepcopy(source)
    for cell in merged.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if is_solution(cell):
            grade_id = _grade_id(cell)
            if grade_id in by_id:
                cell.source = by_id[grade_id]
            else:
                missing.append(grade_id)
                cell.source = STUB
    return merged, missing


def _run(path: Path, cell_timeout: int) -> None:
    """Execute a notebook in place in a fresh kernel (runs in a child process, under the
    limits :func:`labgpt.tools.sandbox.run` set on it, which the kernel inherits)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=cell_timeout, allow_errors=True,
                            interrupt_on_timeout=True,  # a looping cell fails, grading goes on
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    finally:
        nbformat.write(nb, path)


def grade_one(path: Path, source_dir: Path | None, cell_timeout: int = 120,
              notebook_timeout: int = 600, memory_mb: int = 4096, isolate: bool = True,
              ) -> Grade:
    """Grade one submission in its own folder (in :mod:`labgpt.tools.sandbox`'s sandbox where
    the machine has one, unless ``isolate`` is False)."""
    grade = Grade(submission=str(path))
    if path.is_symlink():
        grade.status, grade.reason = "unreadable", "a symbolic link is not graded"
        return grade
    try:
        submission = nbformat.read(path, as_version=4)
    except Exception as err:  # corrupt JSON, not a notebook, unreadable file
        grade.status, grade.reason = "unreadable", f"{type(err).__name__}: {err}"[:300]
        return grade
    source_path = (source_dir / path.name) if source_dir else None
    if source_path is not None and not source_path.is_file():
        grade.status = "no source"
        grade.reason = f"no instructor notebook named {path.name} in {source_dir}"
        return grade
    source = nbformat.read(source_path, as_version=4) if source_path else submission
    try:
        validate_source(source, path.name if source_path is None else str(source_path))
    except ValueError as err:  # only a submission graded as its own source can get here
        grade.status, grade.reason = "error", str(err)[:300]
        return grade
    merged, missing = _merge_into_source(submission, source)
    checks = [c for c in merged.cells if is_check(c)]
    grade.max_score = sum(float(_meta(c).get("points", 0)) for c in checks)

    with tempfile.TemporaryDirectory(prefix="labgpt-grade-") as tmp:
        folder = Path(tmp)  # the submission's own, empty folder: only its notebook is in it
        work = folder / "submission.ipynb"
        nbformat.write(merged, work)
        done = sandbox.run(lambda where: [sys.executable, "-m", "labgpt.homework", "_run",
                                          f"{where}/{work.name}", "--cell-timeout",
                                          str(cell_timeout)],
                           folder, notebook_timeout, sandbox.Limits(memory_mb=memory_mb),
                           sandbox=isolate)
        grade.sandbox = done.sandbox
        if done.returncode is None:
            grade.status = "timeout"
            grade.reason = f"the notebook ran longer than {notebook_timeout} s"
        elif done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
            if "DeadKernelError" in done.stderr or "Kernel died" in done.stderr:
                grade.status = "kernel died"
            elif "CellTimeoutError" in done.stderr:
                grade.status = "timeout"
            else:
                grade.status = "error"
            grade.reason = tail[0][:300]
        try:
            executed = nbformat.read(work, as_version=4)
        except Exception as err:  # the kernel's code removed or broke the file
            executed, grade.status = None, "error"
            grade.reason = f"the executed notebook could not be read back: {type(err).__name__}"
    if executed is None or len(executed.cells) != len(merged.cells):
        grade.status = "error"
        grade.reason = grade.reason or "the notebook was altered while it ran"
        grade.exercises = [ExerciseScore(_grade_id(c), 0.0, float(_meta(c).get("points", 0)),
                                         grade.reason) for c in checks]
        return grade

    # What ran comes from the executed copy; which cells are checks, their ids and their
    # points always come from the instructor's (merged) copy, cell by cell.
    solution_errors = {_grade_id(m): _first_error(e)
                       for m, e in zip(merged.cells, executed.cells, strict=True)
                       if is_solution(m)}
    for mine, cell in zip(merged.cells, executed.cells, strict=True):
        if not is_check(mine):
            continue
        points = float(_meta(mine).get("points", 0))
        ran = cell.get("execution_count") is not None
        error = _first_error(cell) or ("" if ran else f"not run ({grade.status})")
        grade_id = _grade_id(mine)
        solution_id = grade_id.replace("-check", "-solution")
        if solution_id in missing:
            error = "exercise missing from the submission"
        elif error and solution_errors.get(solution_id):
            error = f"the solution cell raised {solution_errors[solution_id]}; check: {error}"
        if "KeyboardInterrupt" in error:
            error += f" (interrupted: a cell ran past the {cell_timeout} s limit)"
        earned = points if ran and not error else 0.0
        grade.exercises.append(ExerciseScore(grade_id, earned, points, error))
    grade.score = sum(e.points for e in grade.exercises)
    if grade.status == "graded" and missing:
        grade.reason = f"missing exercises: {', '.join(missing)}"
    return grade


def grade_all(paths: list[Path], out: Path, source_dir: Path | None, **limits) -> list[Grade]:
    """Grade every submission, writing ``grades.csv`` and ``grades.json`` in ``out`` as each
    result is known. The instructor's notebooks are validated first (a ValueError before any
    grading if one is malformed); a submission that breaks the grader is reported as that
    submission's error and the run goes on."""
    if source_dir is not None:
        for name in sorted({p.name for p in paths}):
            if (source_dir / name).is_file():
                validate_source(nbformat.read(source_dir / name, as_version=4),
                                str(source_dir / name))
    out.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out / "grades.csv", out / "grades.json"
    grades: list[Grade] = []
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "status", "exercise", "points", "max_points", "error"])
        for path in paths:
            try:
                grade = grade_one(path, source_dir, **limits)
            except Exception as err:  # one submission's failure never stops the run
                grade = Grade(submission=str(path), status="error",
                              reason=f"grading failed: {type(err).__name__}"[:300])
            grades.append(grade)
            rows = [[grade.submission, grade.status, e.grade_id, e.points, e.max_points, e.error]
                    for e in grade.exercises] or [[grade.submission, grade.status, "", 0, 0,
                                                   grade.reason]]
            writer.writerows(rows)
            f.flush()  # written as it goes: an interrupted run keeps what it graded
            json_path.write_text(json.dumps([asdict(g) for g in grades], indent=1))
            print(f"{grade.score:5.1f} / {grade.max_score:<5.1f} {grade.status:<12} "
                  f"{path.name}  {grade.reason}")
    return grades


def _submissions(args: list[str]) -> list[Path]:
    paths = []
    for arg in args:
        p = Path(arg)
        paths.extend(sorted(p.rglob("*.ipynb")) if p.is_dir() else [p])
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m labgpt.homework", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    student = commands.add_parser("student", help="make student versions")
    student.add_argument("notebooks", nargs="+", type=Path)
    student.add_argument("-o", "--out", type=Path, required=True)
    grade = commands.add_parser("grade", help="grade submissions (files or folders)")
    grade.add_argument("submissions", nargs="+")
    grade.add_argument("-o", "--out", type=Path, required=True)
    grade.add_argument("--source", type=Path, default=Path(__file__).parents[1] / "book",
                       help="the instructor's notebooks (default: the book)")
    grade.add_argument("--cell-timeout", type=int, default=300)
    grade.add_argument("--notebook-timeout", type=int, default=900)
    grade.add_argument("--memory-mb", type=int, default=4096)
    grade.add_argument("--no-sandbox", action="store_true",
                       help="do not use bubblewrap even where it works (weaker isolation)")
    run = commands.add_parser("_run")  # internal: execute one notebook in this process
    run.add_argument("path", type=Path)
    run.add_argument("--cell-timeout", type=int, default=300)
    args = parser.parse_args(argv)
    if args.command == "student":
        make_student(args.notebooks, args.out)
    elif args.command == "grade":
        isolate = not args.no_sandbox
        print("sandbox: " + ("bubblewrap" if isolate and sandbox.bubblewrap_works() else
                             "none (no bubblewrap here: each submission runs in its own folder "
                             "and session, but can read what this user can read)"))
        grade_all(_submissions(args.submissions), args.out, args.source,
                  cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                  memory_mb=args.memory_mb, isolate=isolate)
    else:
        _run(args.path, args.cell_timeout)


if __name__ == "__main__":
    main()
