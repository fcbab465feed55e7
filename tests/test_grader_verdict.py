"""The grader's verdict comes from outside the student's kernel (labgpt.tools.verdict).

Each submission below is a student who wants the marks without the work: it tampers with the
kernel's error handling, the checkers, the cells that follow, the grader's log, or it lets the
package (or PyTorch) compute the answer. None may score; an honest submission must.
"""

import json
import textwrap
from pathlib import Path

import nbformat
import pytest
import torch

from labgpt.tools import homework, verdict

CROSS_ENTROPY = """\
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    return -log_probs[torch.arange(len(targets)), targets].mean()"""


def exercise_notebook(solution: str, double: str = "    return 2 * x") -> nbformat.NotebookNode:
    """Two exercises: ``cross_entropy``, checked by a labgpt checker (its verdict replayed in
    the grader), and ``double``, checked by a bare assert (the weaker in-kernel verdict)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                  "language": "python"}}

    def cell(source, grade_id, **meta):
        c = nbformat.v4.new_code_cell(source)
        c.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, **meta}
        return c

    nb.cells = [
        nbformat.v4.new_code_cell("import labgpt\nimport torch"),
        cell("def cross_entropy(logits, targets):\n    ### BEGIN SOLUTION\n" + solution
             + "\n    ### END SOLUTION", "ce-solution", solution=True, grade=False),
        cell("from labgpt.checks import check_cross_entropy\n\ncheck_cross_entropy(cross_entropy)"
             "\n### BEGIN HIDDEN TESTS\ncheck_cross_entropy(cross_entropy, seed=7)\n"
             "### END HIDDEN TESTS", "ce-check", grade=True, points=1, solution=False),
        cell("def double(x):\n    ### BEGIN SOLUTION\n" + double + "\n    ### END SOLUTION",
             "double-solution", solution=True, grade=False),
        cell("assert double(3) == 6", "double-check", grade=True, points=1, solution=False),
        nbformat.v4.new_code_cell("print('the end')"),
    ]
    return nb


def attack(code: str) -> nbformat.NotebookNode:
    """A wrong cross_entropy (and a wrong double) plus ``code`` in the solution cell."""
    return exercise_notebook("    return torch.tensor(0.0)\n" + textwrap.dedent(code).strip(),
                             double="    return 0")


ATTACKS = {
    # The kernel's own error handling: failing cells look passed.
    "custom_exc": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)",
    "showtraceback": """
        ip = get_ipython()
        ip.showtraceback = ip._showtraceback = lambda *a, **k: None
        import sys; sys.excepthook = lambda *a: None""",
    # Every later cell (checks and the grader's own cells) rewritten to nothing.
    "input_transformer": "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])",
    # The checker patched where the check cell and the recording import it.
    "patched_checker": """
        import labgpt.checks, labgpt.checks.getting_started as g
        def passed(fn, seed=0):
            print("cross_entropy passes all 4 checks.")
        labgpt.checks.check_cross_entropy = g.check_cross_entropy = passed""",
    # The grader's recording module patched to write what the student likes.
    "patched_recorder": """
        import labgpt.tools.verdict as v
        v.record = lambda *a, **k: None
        v.replay = lambda *a, **k: ''""",
    # A log forged over and over from a background thread, whatever the grader records.
    "forged_log": """
        import threading, time
        def forge():
            while True:
                for i in range(4):
                    with open(f"check-{i}.log", "w") as f:
                        f.write('{"calls": []}')
                time.sleep(0.01)
        threading.Thread(target=forge, daemon=True).start()""",
    # The executed notebook forged (every cell "ran" without error), then the runner killed
    # before it writes its own: the grader reads only a notebook its runner sealed.
    "forged_notebook": """
        import os, signal, nbformat
        nb = nbformat.read("submission.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.execution_count, cell.outputs = 1, []
                cell.metadata["labgpt_reply"] = "ok"
        nbformat.write(nb, "submission.ipynb")
        os.kill(os.getppid(), signal.SIGKILL)""",
    # The answer from PyTorch, called directly, through a reference taken here, or a module.
    "calls_torch": "",
    "captured_reference": "",
    "through_module": "",
    # Answers looked up for the inputs the visible check draws (seed 0): right there only.
    "hard_coded": "",
}
SOLUTIONS = {
    "calls_torch": "    return torch.nn.functional.cross_entropy(logits, targets)",
    "captured_reference": "    return _reference(logits, targets)\n"
                          "from torch.nn.functional import cross_entropy as _reference",
    "through_module": "    return torch.nn.CrossEntropyLoss()(logits, targets)",
    "hard_coded": textwrap.dedent("""\
        return _answers[(tuple(logits.shape), round(float(logits.sum()), 4))]
    _g = torch.Generator().manual_seed(0)
    _answers = {}
    for _n, _v in [(4, 3), (32, 65), (1, 10)]:
        _l = torch.randn(_n, _v, generator=_g) * 3
        _t = torch.randint(_v, (_n,), generator=_g)
        _lp = _l - torch.logsumexp(_l, -1, keepdim=True)
        _answers[(tuple(_l.shape), round(float(_l.sum()), 4))] = -_lp[torch.arange(_n), _t].mean()
    _big = torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]])
    _answers[((2, 3), round(float(_big.sum()), 4))] = torch.tensor(500.0)"""),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("verdict")
    (base / "source").mkdir()
    nbformat.write(exercise_notebook(CROSS_ENTROPY), base / "source" / "ex.ipynb")
    submissions = {"honest": exercise_notebook(CROSS_ENTROPY)}
    for name, code in ATTACKS.items():
        solution = SOLUTIONS.get(name)
        if solution and name == "hard_coded":
            solution = "    " + solution
        submissions[name] = (exercise_notebook(solution, double="    return 0") if solution
                             else attack(code))
    paths = []
    for name, nb in submissions.items():
        (base / "in" / name).mkdir(parents=True)
        nbformat.write(nb, base / "in" / name / "ex.ipynb")
        paths.append(base / "in" / name / "ex.ipynb")
    grades = homework.grade_all(paths, base / "report", base / "source", jobs=2,
                                cell_timeout=20, notebook_timeout=120, seed=1234)
    return {Path(g.submission).parent.name: g for g in grades}, base


def test_the_honest_submission_scores_full_marks_on_fresh_inputs(graded):
    grade = graded[0]["honest"]
    assert (grade.score, grade.max_score, grade.status) == (2, 2, "graded")
    assert [e.verdict for e in grade.exercises] == ["replayed", "kernel"]
    # The visible check drew seed 0; the grader drew others (one per checker call).
    assert grade.seed == 1234


@pytest.mark.parametrize("name", list(ATTACKS))
def test_no_attack_earns_the_replayed_exercise(graded, name):
    grade = graded[0][name]
    replayed = next(e for e in grade.exercises if e.grade_id == "ce-check")
    assert replayed.points == 0, (name, replayed)
    assert replayed.error


@pytest.mark.parametrize(("name", "message"), [
    ("calls_torch", "disables it while your solution runs"),
    ("captured_reference", "disables it while your solution runs"),
    ("through_module", "disables it while your solution runs"),
    ("hard_coded", "KeyError"),
    ("patched_checker", "could not be replayed"),
    ("input_transformer", "no log was written"),
])
def test_the_report_says_why(graded, name, message):
    replayed = next(e for e in graded[0][name].exercises if e.grade_id == "ce-check")
    assert message in replayed.error, replayed.error


def test_a_forged_executed_notebook_is_not_read(graded):
    grade = graded[0]["forged_notebook"]
    assert grade.score == 0 and grade.status == "error"
    assert "not the one the grader's runner wrote" in grade.reason


def test_the_weaker_in_kernel_verdict_survives_tampered_error_handling(graded):
    """``double`` is judged in the kernel (its check is a bare assert): the grader resets the
    hooks the student changed before running it, so a wrong double still fails there."""
    for name in ("custom_exc", "showtraceback"):
        kernel = next(e for e in graded[0][name].exercises if e.grade_id == "double-check")
        assert kernel.verdict == "kernel" and kernel.points == 0, (name, kernel)


def test_the_report_is_valid_and_marks_how_each_exercise_was_judged(graded):
    _, base = graded
    rows = json.loads((base / "report" / "grades.json").read_text())
    assert len(rows) == 1 + len(ATTACKS)
    text = (base / "report" / "grades.csv").read_text()
    assert "replayed" in text and "kernel" in text


def test_a_rerun_keeps_what_is_graded_unless_asked(graded, capsys):
    grades, base = graded
    paths = [Path(g.submission) for g in grades.values()][:2]
    again = homework.grade_all(paths, base / "report", base / "source", seed=99)
    assert [g.seed for g in again] == [1234, 1234]  # not graded again
    assert "already graded" in capsys.readouterr().out


def test_parallel_grading_gives_the_serial_results(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    nbformat.write(exercise_notebook(CROSS_ENTROPY), source / "ex.ipynb")
    paths = []
    for i, (solution, double) in enumerate([(CROSS_ENTROPY, "    return 2 * x"),
                                            ("    return torch.tensor(1.0)", "    return 2 * x"),
                                            (CROSS_ENTROPY, "    return x")]):
        (tmp_path / "in" / str(i)).mkdir(parents=True)
        nbformat.write(exercise_notebook(solution, double), tmp_path / "in" / str(i) / "ex.ipynb")
        paths.append(tmp_path / "in" / str(i) / "ex.ipynb")
    serial = homework.grade_all(paths, tmp_path / "serial", source, jobs=1, seed=5)
    parallel = homework.grade_all(paths, tmp_path / "parallel", source, jobs=3, seed=5)
    assert [(g.score, [e.error for e in g.exercises]) for g in serial] == \
        [(g.score, [e.error for e in g.exercises]) for g in parallel]
    assert [g.score for g in serial] == [2, 1, 1]


# --- the record and replay, in one process ----------------------------------------------------


def test_replay_refuses_a_log_of_other_inputs(tmp_path):
    from labgpt.checks import check_cross_entropy

    def right(logits, targets):
        log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
        return -log_probs[torch.arange(len(targets)), targets].mean()

    verdict.record("check_cross_entropy", right, 3, [], str(tmp_path / "log"))
    assert verdict.replay(check_cross_entropy, tmp_path / "log", 3) == ""
    assert "other inputs" in verdict.replay(check_cross_entropy, tmp_path / "log", 4)
    (tmp_path / "log").write_bytes(b"\x00" * 100)
    assert "could not be replayed" in verdict.replay(check_cross_entropy, tmp_path / "log", 3)


def test_disabled_functions_come_back():
    import torch.nn.functional as F

    x, t = torch.randn(3, 4), torch.tensor([0, 1, 2])
    before = F.cross_entropy(x, t)
    verdict.disable(["torch.nn.functional.cross_entropy", "labgpt.ngram.NGramLM.perplexity"])
    with pytest.raises(PermissionError, match="write yourself"):
        F.cross_entropy(x, t)
    verdict.enable()
    assert torch.equal(F.cross_entropy(x, t), before)
