"""The homework tool: student versions of every chapter, and the grader on broken submissions."""

import json
from pathlib import Path

import nbformat
import pytest

from labgpt.tools import homework

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [p for p in sorted((ROOT / "book").glob("*.ipynb"))
            if nbformat.read(p, as_version=4).metadata.get("labgpt", {}).get("page") != "tool"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_student_version_has_no_solutions_and_keeps_the_rest(path, tmp_path):
    source = nbformat.read(path, as_version=4)
    student = homework.student_version(source)
    nbformat.validate(student)
    solutions = [c for c in source.cells if homework.is_solution(c)]
    for original, stubbed in zip(source.cells, student.cells, strict=True):
        if homework.is_solution(original):
            body = original.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
            code_lines = [line.strip() for line in body.splitlines() if line.strip()]
            assert "### BEGIN SOLUTION" not in stubbed.source
            assert "NotImplementedError" in stubbed.source
            assert not any(line in stubbed.source for line in code_lines if len(line) > 12)
            # The signature and anything above the solution block stay.
            assert stubbed.source.split("\n")[0] == original.source.split("\n")[0]
        elif homework.is_check(original):  # hidden tests go, the rest stays
            assert "### BEGIN HIDDEN TESTS" in original.source, "every check has a hidden test"
            assert "HIDDEN" not in stubbed.source
            visible = homework.HIDDEN.sub("", original.source)
            assert stubbed.source.rstrip("\n") == visible.rstrip("\n")
        else:
            assert stubbed.source == original.source  # instructions untouched
    assert solutions, "every chapter has at least one exercise"
    # Deterministic: the same input gives a byte-identical file.
    a, b = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    nbformat.write(student, a)
    nbformat.write(homework.student_version(source), b)
    assert a.read_bytes() == b.read_bytes()


def tiny_notebook(solution: str, check: str = "assert double(3) == 6") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                  "language": "python"}}
    solution_cell = nbformat.v4.new_code_cell(
        "def double(x):\n    ### BEGIN SOLUTION\n" + solution + "\n    ### END SOLUTION")
    solution_cell.metadata["nbgrader"] = {"solution": True, "grade": False,
                                          "grade_id": "tiny-ex1-solution", "schema_version": 3}
    check_cell = nbformat.v4.new_code_cell(
        check + "\n### BEGIN HIDDEN TESTS\nassert double(-1) == -2\n### END HIDDEN TESTS")
    check_cell.metadata["nbgrader"] = {"solution": False, "grade": True, "points": 2,
                                       "grade_id": "tiny-ex1-check", "schema_version": 3}
    nb.cells = [nbformat.v4.new_markdown_cell("Write `double`."), solution_cell, check_cell]
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("homework")
    source = base / "source"
    source.mkdir()
    nbformat.write(tiny_notebook("    return 2 * x"), source / "tiny.ipynb")
    cases = {
        "correct": tiny_notebook("    return 2 * x"),
        "exception": tiny_notebook("    raise ValueError('oops')"),
        "loop": tiny_notebook("    while True:  # never returns\n        pass"),
        "interrupt": tiny_notebook("    raise KeyboardInterrupt"),  # the learner's, no timeout
        "kernel_death": tiny_notebook("    return 2 * x\nimport os, signal\n"
                                      "os.kill(os.getpid(), signal.SIGKILL)"),
        "hidden_fails": tiny_notebook("    return 6 if x == 3 else 0"),
        "edited_check": tiny_notebook("    return 0", check="pass  # I edited the check"),
        "missing": nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]),
    }
    submissions = base / "submissions"
    for name, nb in cases.items():
        (submissions / name).mkdir(parents=True)
        nbformat.write(nb, submissions / name / "tiny.ipynb")
    forged = tiny_notebook("    return 0")  # wrong, but claims a check worth 1000 points
    forged.cells[1].metadata["nbgrader"].update(grade=True, points=1000)
    forged.cells[1].outputs = [nbformat.v4.new_output("stream", text="passed")]
    forged_right = tiny_notebook("    return 2 * x")
    forged_right.cells[1].metadata["nbgrader"].update(grade=True, points=1000)
    malformed = json.loads(nbformat.writes(tiny_notebook("    return 2 * x")))
    malformed["cells"][0]["metadata"]["nbgrader"] = None  # a markdown cell with null metadata
    list_id = json.loads(nbformat.writes(tiny_notebook("    return 2 * x")))
    list_id["cells"][1]["metadata"]["nbgrader"]["grade_id"] = ["tiny-ex1-solution"]
    for name, nb in {"forged": forged, "forged_right": forged_right}.items():
        (submissions / name).mkdir(parents=True)
        nbformat.write(nb, submissions / name / "tiny.ipynb")
    for name, raw in {"malformed": malformed, "list_id": list_id}.items():
        (submissions / name).mkdir(parents=True)
        (submissions / name / "tiny.ipynb").write_text(json.dumps(raw))
    (submissions / "corrupt").mkdir()
    (submissions / "corrupt" / "tiny.ipynb").write_text("{not json")
    (submissions / "renamed").mkdir()
    nbformat.write(cases["correct"], submissions / "renamed" / "my_tiny.ipynb")
    report = base / "report"
    grades = homework.grade_all(homework._submissions([str(submissions)]), report, source,
                                cell_timeout=5, notebook_timeout=60, memory_mb=4096)
    return {Path(g.submission).parent.name: g for g in grades}, report


def test_correct_submission_gets_full_marks(graded):
    grades, _ = graded
    assert grades["correct"].score == grades["correct"].max_score == 2


@pytest.mark.parametrize(("case", "status", "message"), [
    ("exception", "graded", "ValueError: oops"),
    ("loop", "graded", "timeout: the cell ran past the 5 s limit"),
    ("interrupt", "graded", "KeyboardInterrupt"),
    ("kernel_death", "kernel died", ""),
    ("hidden_fails", "graded", "AssertionError"),
    ("edited_check", "graded", "AssertionError"),
    ("missing", "graded", "exercise missing"),
])
def test_broken_submissions_score_zero_with_a_reason(graded, case, status, message):
    grade = graded[0][case]
    assert grade.status == status and grade.score == 0
    if grade.exercises:
        assert message in grade.exercises[0].error
        assert case == "loop" or "timeout" not in grade.exercises[0].error
    else:
        assert grade.reason


def test_only_the_source_of_solutions_crosses_over(graded):
    grades, _ = graded
    assert grades["forged"].score == 0 and grades["forged"].max_score == 2
    assert grades["forged_right"].score == grades["forged_right"].max_score == 2
    assert [e.grade_id for e in grades["forged_right"].exercises] == ["tiny-ex1-check"]
    assert grades["malformed"].score == 2  # null metadata elsewhere breaks nothing
    assert grades["list_id"].score == 0  # an id that is not a string matches no exercise
    assert "exercise missing" in grades["list_id"].exercises[0].error


@pytest.mark.parametrize("points", [float("inf"), -1, "lots", True])
def test_a_malformed_instructor_notebook_stops_before_any_grading(tmp_path, points):
    source = tmp_path / "source"
    source.mkdir()
    nb = tiny_notebook("    return 2 * x")
    nb.cells[2].metadata["nbgrader"]["points"] = points
    (source / "tiny.ipynb").write_text(json.dumps(json.loads(nbformat.writes(nb))))
    nbformat.write(tiny_notebook("    return 2 * x"), tmp_path / "tiny.ipynb")
    with pytest.raises(ValueError, match="points must be a finite, non-negative number"):
        homework.grade_all([tmp_path / "tiny.ipynb"], tmp_path / "report", source)
    assert not (tmp_path / "report").exists()


def test_unreadable_and_renamed_files_are_reported(graded):
    grades, _ = graded
    assert grades["corrupt"].status == "unreadable" and "JSON" in grades["corrupt"].reason
    assert grades["renamed"].status == "no source" and "my_tiny.ipynb" in grades["renamed"].reason


def test_reports_are_written(graded):
    grades, report = graded
    rows = (report / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("submission,status,exercise") and len(rows) == 1 + len(grades)
    assert len(json.loads((report / "grades.json").read_text())) == len(grades)


@pytest.mark.slow
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_grades_full_and_its_student_version_zero(path, tmp_path):
    release = tmp_path / "release"
    homework.make_student([path], release)
    grades = homework.grade_all([path, release / path.name], tmp_path / "report",
                                path.parent, jobs=2, cell_timeout=600, notebook_timeout=900)
    assert grades[0].score == grades[0].max_score > 0, grades[0]
    assert grades[1].score == 0
    # Every check of the book is judged outside the kernel, the stubs fail as stubs.
    assert {e.verdict for g in grades for e in g.exercises} == {"replayed"}
    assert all("NotImplementedError" in e.error for e in grades[1].exercises), grades[1]
