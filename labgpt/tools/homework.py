"""Homework: make student versions of chapters and grade submissions.

    python -m labgpt.homework student book/*.ipynb -o release/
    python -m labgpt.homework grade submissions/ -o report/ [--source book/]

Exercises use nbgrader's markup and metadata, so a course that uses nbgrader can take the
notebooks as they are, but nothing here needs nbgrader, a database or a Jupyter server:

- a *solution cell* (metadata ``nbgrader.solution``) holds the answer between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``; the student version replaces it with
  ``raise NotImplementedError(...)``;
- a *check cell* (``nbgrader.grade`` with ``points``) scores its exercise. Lines between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are removed from the student version
  and restored at grading time. From a submission only the source text of its solution cells
  crosses over (matched by grade_id): every other cell, all metadata (points included) and no
  outputs come from the instructor's copy, which is validated before anything is graded, so
  editing a check or forging metadata does not help.

A check cell's statements ``check_x(name)`` (a checker of :mod:`labgpt.checks`) are judged
outside the kernel (:mod:`labgpt.tools.verdict`): after the cell, the grader records the
learner's calls on inputs drawn from a fresh seed, with the package functions the exercise
re-implements disabled, then replays the checker in its own process on that record. The
exercise scores if every replay passes and the check cell ran without error. A check cell
without such a statement is judged by whether it raised in the kernel, after the kernel's hooks
are reset (weaker; the report says ``kernel``).

Grading runs each submission in a fresh kernel, in its own empty folder, inside the sandbox
of :mod:`labgpt.tools.sandbox` where the machine has bubblewrap (a weaker fallback otherwise,
named in the report), with a timeout per cell and per notebook and limits on memory, file size
and processes, ``jobs`` submissions at a time, and writes each result as soon as it is known.
"""

from __future__ import annotations

import argparse
import ast
import copy
import csv
import hashlib
import hmac
import json
import math
import re
import secrets
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from labgpt.tools import sandbox, verdict

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
            hidden = HIDDEN.sub("", cell.source)
            cell.source = hidden if cell.source.endswith("\n") else hidden.rstrip("\n")
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
    # "replayed": the checkers ran again in the grader on the values the learner's functions
    # returned (labgpt.tools.verdict); "kernel": a check cell without such a checker, judged
    # by whether it raised in the kernel (weaker: the learner's code can tamper with that)
    verdict: str = "replayed"


@dataclass
class Grade:
    submission: str
    score: float = 0.0
    max_score: float = 0.0
    status: str = "graded"  # graded | timeout | kernel died | unreadable | no source
    reason: str = ""
    sandbox: str = ""  # how it ran: "bubblewrap", or "none" (labgpt.tools.sandbox)
    seed: int = 0  # the checks drew their inputs from this (fresh for each run unless given)
    exercises: list[ExerciseScore] = field(default_factory=list)


def _printable(text: str) -> str:
    """``text`` with its control characters blanked (a report is CSV and JSON, read by people)."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", text)


def _first_error(cell) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text = f"{output.get('ename')}: {output.get('evalue')}"[:300]
            return _printable(text)
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


# --- the verdict outside the kernel ------------------------------------------------------------

VERDICT = "__import__('labgpt.tools.verdict', fromlist=['verdict'])"  # survives a deleted name


def checker_calls(source: str) -> list[tuple[str, str]]:
    """The exercise checks a check cell makes: statements ``check_x(name, ...)`` whose
    ``check_x`` is a checker of :mod:`labgpt.checks` marked with ``@exercise`` and whose first
    argument names the learner's function (or object). Read from the instructor's copy."""
    import labgpt.checks as checks

    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax: no replayable checks
        return []
    calls = []
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.args
                and isinstance(call.args[0], ast.Name)
                and hasattr(getattr(checks, call.func.id, None), "reimplements")):
            calls.append((call.func.id, call.args[0].id))
    return calls


@dataclass
class _Replay:
    checker: str
    subject: str  # the learner's name the check cell passes
    seed: int
    log: str  # the file the kernel writes, in the submission's folder
    cell: int  # the injected cell that records it


@dataclass
class _Exercise:
    grade_id: str
    points: float
    cell: int  # the check cell's index in the notebook that runs
    replays: list[_Replay] = field(default_factory=list)


def _injected(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source, metadata={"labgpt": "grader"})


def _reimplemented(checker: str) -> list[str]:
    import labgpt.checks as checks

    return list(getattr(checks, checker).reimplements)


def instrument(merged: nbformat.NotebookNode, seed: int
               ) -> tuple[nbformat.NotebookNode, list[_Exercise]]:
    """The notebook that runs in the kernel: the merged one, with cells of the grader's put in.
    Around each solution cell, the package functions its exercise re-implements are disabled
    (so that a name taken there is the disabled one); after each check cell, one cell per
    checker call records the learner's calls on inputs drawn from a fresh seed
    (:func:`labgpt.tools.verdict.record`); before a check cell without such a checker, the
    kernel's hooks and the checkers are reset (the weaker, in-kernel verdict)."""
    calls_of = {i: checker_calls(cell.source) for i, cell in enumerate(merged.cells)
                if is_check(cell)}
    names = {_grade_id(merged.cells[i]).replace("-check", "-solution"):
             sorted({n for checker, _ in calls for n in _reimplemented(checker)})
             for i, calls in calls_of.items()}
    cells, exercises = [], []
    for i, cell in enumerate(merged.cells):
        disabled = names.get(_grade_id(cell)) if is_solution(cell) else None
        if disabled:
            cells.append(_injected(f"{VERDICT}.disable({disabled!r})"))
        if is_check(cell):
            calls = calls_of[i]
            if not calls:
                cells.append(_injected(f"{VERDICT}.reset_kernel()"))
            exercise = _Exercise(_grade_id(cell), float(_meta(cell).get("points", 0)),
                                 len(cells))
            cells.append(cell)
            for checker, subject in calls:
                k = sum(len(e.replays) for e in exercises) + len(exercise.replays)
                replay = _Replay(checker, subject, (seed + 7919 * k) % 2**31,
                                 f"check-{k}.log", len(cells))
                exercise.replays.append(replay)
                cells.append(_injected(
                    f"{VERDICT}.record({checker!r}, {subject}, {replay.seed}, "
                    f"{_reimplemented(checker)!r}, {replay.log!r})"))
            exercises.append(exercise)
            continue
        cells.append(cell)
        if disabled:
            cells.append(_injected(f"{VERDICT}.enable()"))
    run = copy.deepcopy(merged)
    run.cells = cells
    return run, exercises


def _seal(key: str, path: Path) -> str:
    return hmac.new(key.encode(), path.read_bytes(), hashlib.sha256).hexdigest()


def _run(path: Path, cell_timeout: int) -> None:
    """Execute a notebook in place in a fresh kernel (runs in a child process, under the
    limits :func:`labgpt.tools.sandbox.run` set on it, which the kernel inherits). Each cell's
    ``execute_reply`` status is kept in its metadata (``labgpt_reply``). A key read from stdin
    before the kernel starts seals the notebook written at the end (``<path>.seal``, an HMAC),
    so the grader can tell it from a file the kernel's code wrote."""
    import ctypes

    from nbclient import NotebookClient

    with suppress(Exception):  # not dumpable: the kernel (same user) cannot read our memory,
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # our stdin or the key (PR_SET_DUMPABLE = 4)
    key = sys.stdin.readline().strip()
    sys.stdin.close()

    class Client(NotebookClient):
        async def _async_handle_timeout(self, timeout, cell=None):
            if cell is not None:  # so an interrupt we caused is not the learner's
                cell.metadata["labgpt_timeout"] = True
            return await super()._async_handle_timeout(timeout, cell)

    def keep_status(cell, cell_index, execute_reply):
        status = (execute_reply or {}).get("content", {}).get("status")
        cell.metadata["labgpt_reply"] = str(status)

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("labgpt_reply", None)
        cell.metadata.pop("labgpt_timeout", None)
    client = Client(nb, timeout=cell_timeout, allow_errors=True,
                    interrupt_on_timeout=True,  # a looping cell fails, grading goes on
                    on_cell_executed=keep_status,
                    resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    finally:
        nbformat.write(nb, path)
        if key:
            path.with_suffix(".seal").write_text(_seal(key, path))


def _kernel_error(cell, status: str, cell_timeout: int) -> str:
    """Why a cell that ran in the kernel did not pass there ("" if it did)."""
    if cell.get("execution_count") is None:
        return f"not run ({status})"
    if cell.metadata.get("labgpt_timeout"):
        return f"timeout: the cell ran past the {cell_timeout} s limit and was interrupted"
    error = _first_error(cell)
    if error:
        return error
    if cell.metadata.get("labgpt_reply") != "ok":
        return "the cell did not finish (no successful reply from the kernel)"
    return ""


def _judge(exercise: _Exercise, executed, folder: Path, status: str, cell_timeout: int
           ) -> tuple[str, str]:
    """An exercise's error ("" when it passes) and how it was judged."""
    import labgpt.checks as checks

    for replay in exercise.replays:
        recorded = executed.cells[replay.cell]
        problem = _kernel_error(recorded, status, cell_timeout)
        if problem:
            return f"the check could not be recorded: {problem}", "replayed"
        message = verdict.replay(getattr(checks, replay.checker), folder / replay.log,
                                 replay.seed)
        if message:
            return _printable(message)[:300], "replayed"
    how = "replayed" if exercise.replays else "kernel"
    return _kernel_error(executed.cells[exercise.cell], status, cell_timeout), how


def grade_one(path: Path, source_dir: Path | None, cell_timeout: int = 120,
              notebook_timeout: int = 600, memory_mb: int = 4096, isolate: bool = True,
              seed: int | None = None) -> Grade:
    """Grade one submission in its own folder (in :mod:`labgpt.tools.sandbox`'s sandbox where
    the machine has one, unless ``isolate`` is False); the checks draw their inputs from
    ``seed`` (fresh when None)."""
    grade = Grade(submission=str(path))
    grade.seed = secrets.randbelow(2**31) if seed is None else int(seed)
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
    run_nb, exercises = instrument(merged, grade.seed)
    grade.max_score = sum(e.points for e in exercises)

    with tempfile.TemporaryDirectory(prefix="labgpt-grade-") as tmp:
        folder = Path(tmp)  # the submission's own, empty folder: only its notebook is in it
        work = folder / "submission.ipynb"
        nbformat.write(run_nb, work)
        key = secrets.token_hex(32)
        done = sandbox.run(lambda where: [sys.executable, "-m", "labgpt.homework", "_run",
                                          f"{where}/{work.name}", "--cell-timeout",
                                          str(cell_timeout)],
                           folder, notebook_timeout, sandbox.Limits(memory_mb=memory_mb),
                           sandbox=isolate, stdin=key + "\n")
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
            grade.reason = _printable(tail[0])[:300]
        seal = work.with_suffix(".seal")
        try:
            if seal.is_symlink() or not hmac.compare_digest(seal.read_text()[:64],
                                                            _seal(key, work)):
                raise ValueError("not the runner's")
            executed = nbformat.read(work, as_version=4)
        except Exception as err:  # the kernel's code removed, broke or forged the file
            executed = None
            if grade.status != "timeout":  # (a notebook killed at its time limit has no seal)
                grade.status = "error"
                grade.reason = ("the executed notebook could not be read back or is not the "
                                f"one the grader's runner wrote ({type(err).__name__})")
        if executed is None or len(executed.cells) != len(run_nb.cells):
            grade.status = "error"
            grade.reason = grade.reason or "the notebook was altered while it ran"
            grade.exercises = [ExerciseScore(e.grade_id, 0.0, e.points, grade.reason,
                                             "replayed" if e.replays else "kernel")
                               for e in exercises]
            return grade
        solution_errors = {_grade_id(c): _first_error(e) for c, e in
                           zip(run_nb.cells, executed.cells, strict=True) if is_solution(c)}
        for exercise in exercises:
            solution_id = exercise.grade_id.replace("-check", "-solution")
            if solution_id in missing:
                error = "exercise missing from the submission"
                how = "replayed" if exercise.replays else "kernel"
            else:
                error, how = _judge(exercise, executed, folder, grade.status, cell_timeout)
                if error and solution_errors.get(solution_id):
                    error = f"the solution cell raised {solution_errors[solution_id]}; {error}"
            earned = 0.0 if error else exercise.points
            grade.exercises.append(ExerciseScore(exercise.grade_id, earned, exercise.points,
                                                 error, how))
    grade.score = sum(e.points for e in grade.exercises)
    if grade.status == "graded" and missing:
        grade.reason = f"missing exercises: {', '.join(missing)}"
    return grade


def _write_report(out: Path, grades: list[Grade]) -> None:
    """``grades.csv`` and ``grades.json``, each written to a temporary name and renamed, so
    the report on disk is always whole."""
    rows = [["submission", "status", "exercise", "points", "max_points", "error", "verdict",
             "sandbox", "seed"]]
    for g in grades:
        rows += ([[g.submission, g.status, e.grade_id, e.points, e.max_points, e.error,
                   e.verdict, g.sandbox, g.seed] for e in g.exercises]
                 or [[g.submission, g.status, "", 0, 0, g.reason, "", g.sandbox, g.seed]])
    with open(out / "grades.csv.tmp", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    (out / "grades.json.tmp").write_text(json.dumps([asdict(g) for g in grades], indent=1))
    (out / "grades.csv.tmp").replace(out / "grades.csv")
    (out / "grades.json.tmp").replace(out / "grades.json")


def _previous(out: Path) -> dict[str, Grade]:
    """The grades an earlier run wrote in ``out`` (none if the report is missing or bad),
    except where the grader itself failed: those are graded again."""
    try:
        rows = json.loads((out / "grades.json").read_text())
        return {r["submission"]: Grade(**{**r, "exercises": [ExerciseScore(**e)
                                                             for e in r["exercises"]]})
                for r in rows if not r["reason"].startswith("grading failed")}
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def grade_all(paths: list[Path], out: Path, source_dir: Path | None, jobs: int = 1,
              regrade: bool = False, **limits) -> list[Grade]:
    """Grade every submission, ``jobs`` at a time, writing ``grades.csv`` and ``grades.json``
    in ``out`` (in the order of ``paths``) each time a result is known. Submissions the report
    in ``out`` already holds are kept, not graded again, unless ``regrade``. The instructor's
    notebooks are validated first (a ValueError before any grading if one is malformed); a
    submission that breaks the grader is reported as that submission's error and the run
    goes on."""
    if source_dir is not None:
        for name in sorted({p.name for p in paths}):
            if (source_dir / name).is_file():
                validate_source(nbformat.read(source_dir / name, as_version=4),
                                str(source_dir / name))
    out.mkdir(parents=True, exist_ok=True)
    known = {} if regrade else _previous(out)
    results: dict[int, Grade] = {i: known[str(p)] for i, p in enumerate(paths)
                                 if str(p) in known}
    lock = threading.Lock()

    def one(i: int, path: Path) -> None:
        try:
            grade = grade_one(path, source_dir, **limits)
        except Exception as err:  # one submission's failure never stops the run
            grade = Grade(submission=str(path), status="error",
                          reason=f"grading failed: {type(err).__name__}"[:300])
        with lock, verdict.REPLAY_LOCK:  # not while a replay holds stdout
            results[i] = grade
            _write_report(out, [results[j] for j in sorted(results)])
            print(f"{grade.score:5.1f} / {grade.max_score:<5.1f} {grade.status:<12} "
                  f"{path.name}  {grade.reason}", flush=True)

    for i in sorted(results):
        print(f"{results[i].score:5.1f} / {results[i].max_score:<5.1f} already graded "
              f"{paths[i].name} (--regrade grades it again)")
    _write_report(out, [results[j] for j in sorted(results)])
    todo = [(i, p) for i, p in enumerate(paths) if i not in results]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for future in [pool.submit(one, i, p) for i, p in todo]:
            future.result()
    return [results[i] for i in range(len(paths))]


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
    grade.add_argument("-j", "--jobs", type=int, default=1,
                       help="submissions graded at once (each its own kernel and sandbox)")
    grade.add_argument("--regrade", action="store_true",
                       help="grade again submissions the report in -o already holds")
    grade.add_argument("--seed", type=int, default=None,
                       help="the seed the checks draw their inputs from (default: a fresh one "
                            "per submission; give one to reproduce a grade)")
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
        grade_all(_submissions(args.submissions), args.out, args.source, jobs=args.jobs,
                  regrade=args.regrade, cell_timeout=args.cell_timeout,
                  notebook_timeout=args.notebook_timeout, memory_mb=args.memory_mb,
                  isolate=isolate, seed=args.seed)
    else:
        _run(args.path, args.cell_timeout)


if __name__ == "__main__":
    main()
