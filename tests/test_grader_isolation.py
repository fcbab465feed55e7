"""The grader against hostile submissions: what the sandbox (labgpt.tools.sandbox) must stop.

Each attack is a submission of the tiny exercise whose solution cell also runs the attack; a
correct victim is graded after them. Needs bubblewrap (Debian's ``bubblewrap``): skipped with a
message where it cannot run, a failure under ``LABGPT_REQUIRE_SANDBOX=1`` (as in .ci/run)."""

import os
from pathlib import Path

import nbformat
import pytest

from labgpt.tools import homework, sandbox
from tests.test_homework import tiny_notebook

SECRET = "s3cret-9f1c2"
MARKER = "labgpt-detached-7d3e"


def attack(code: str, answer: str = "    return 2 * x") -> nbformat.NotebookNode:
    nb = tiny_notebook(answer)
    nb.cells[1].source += "\n" + code
    return nb


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    if not sandbox.bubblewrap_works():
        message = "bubblewrap cannot run here (apt-get install bubblewrap); the sandbox is off"
        if os.environ.get("LABGPT_REQUIRE_SANDBOX") == "1":
            pytest.fail(message)
        pytest.skip(message)
    base = tmp_path_factory.mktemp("attacks")
    source, submissions, report = base / "source", base / "submissions", base / "report"
    source.mkdir()
    nbformat.write(tiny_notebook("    return 2 * x"), source / "tiny.ipynb")
    original_source = (source / "tiny.ipynb").read_bytes()
    victim = submissions / "z_victim" / "tiny.ipynb"
    after = submissions / "z_wrong_after" / "tiny.ipynb"
    cases = {
        "a_env": attack("import os\nfound = os.environ.get('LABGPT_TEST_SECRET', '-')\n"
                        "def double(x):\n    raise RuntimeError('env: ' + found)"),
        "a_proc": attack("import os\nseen = []\nfor p in os.listdir('/proc'):\n"
                         "    try:\n        seen.append(open(f'/proc/{p}/cmdline').read())\n"
                         "    except Exception:\n        pass\n"
                         "def double(x):\n    raise RuntimeError('proc: ' + ' | '.join(seen))"),
        "a_read_source": attack(f"try:\n    open({str(source / 'tiny.ipynb')!r}).read()\n"
                                "    ok = True\nexcept OSError:\n    ok = False\n"
                                "def double(x):\n    return 2 * x if ok else 0"),
        "a_overwrite_victim": attack(f"open({str(victim)!r}, 'w').write('{{}}')"),
        "a_edit_source": attack(f"open({str(source / 'tiny.ipynb')!r}, 'w').write('{{}}')"),
        "a_report": attack(f"import os\nos.makedirs({str(report)!r}, exist_ok=True)\n"
                           f"open({str(report / 'grades.json')!r}, 'w').write('hacked')"),
        "a_detached": attack("import subprocess\nsubprocess.Popen(['/bin/sh', '-c', "
                             f"'exec -a {MARKER} sleep 300'], start_new_session=True)"),
        "a_kill_parent": attack("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
        "a_rmtree": attack("import os, shutil\nshutil.rmtree(os.getcwd(), ignore_errors=True)"),
        "z_victim": tiny_notebook("    return 2 * x"),
        "z_wrong_after": tiny_notebook("    return 0"),
    }
    for name, nb in cases.items():
        (submissions / name).mkdir(parents=True)
        nbformat.write(nb, submissions / name / "tiny.ipynb")
    (submissions / "b_symlink").mkdir()
    (submissions / "b_symlink" / "tiny.ipynb").symlink_to(victim)
    victim_bytes, after_bytes = victim.read_bytes(), after.read_bytes()
    os.environ["LABGPT_TEST_SECRET"] = SECRET
    try:
        grades = homework.grade_all(homework._submissions([str(submissions)]), report, source,
                                    cell_timeout=20, notebook_timeout=90, memory_mb=4096)
    finally:
        del os.environ["LABGPT_TEST_SECRET"]
    return {"grades": {Path(g.submission).parent.name: g for g in grades}, "report": report,
            "source": source, "source_bytes": original_source, "victim": victim,
            "victim_bytes": victim_bytes, "after": after, "after_bytes": after_bytes}


def test_every_submission_ran_in_the_sandbox_and_the_run_completed(attacked):
    grades = attacked["grades"]
    assert len(grades) == 12
    ran = [g for name, g in grades.items() if name != "b_symlink"]
    assert all(g.sandbox == "bubblewrap" for g in ran)
    assert grades["z_victim"].score == grades["z_victim"].max_score == 2
    assert grades["z_wrong_after"].score == 0  # the source's checks were not weakened


def test_no_secret_or_grader_detail_reaches_the_report(attacked):
    text = "".join(p.read_text() for p in attacked["report"].iterdir())
    assert SECRET not in text  # the environment was not inherited
    assert "test_grader_isolation" not in text  # the grader's command line was not visible
    assert "env: -" in text and "proc: " in text  # the attacks ran, and found nothing


def test_the_source_other_submissions_and_the_report_are_out_of_reach(attacked):
    assert (attacked["source"] / "tiny.ipynb").read_bytes() == attacked["source_bytes"]
    assert attacked["victim"].read_bytes() == attacked["victim_bytes"]
    assert attacked["after"].read_bytes() == attacked["after_bytes"]
    assert attacked["grades"]["a_read_source"].score == 0  # could not read the solutions
    import json

    json.loads((attacked["report"] / "grades.json").read_text())  # still valid JSON


def test_nothing_a_submission_started_outlives_its_grading(attacked):
    alive = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and MARKER in (p / "cmdline").read_text():
                alive.append(p.name)
        except OSError:
            pass
    assert alive == []


def test_killing_its_parent_or_deleting_its_folder_only_costs_that_submission(attacked):
    grades = attacked["grades"]
    for name in ("a_kill_parent", "a_rmtree"):
        assert grades[name].score == 0 or grades[name].status == "graded"
    assert grades["b_symlink"].status == "unreadable" and "symbolic link" in \
        grades["b_symlink"].reason


def test_without_the_sandbox_the_fallback_still_hides_the_environment(tmp_path, monkeypatch):
    """The weaker fallback (no bubblewrap): own folder, minimal environment, named in the
    result."""
    source = tmp_path / "source"
    source.mkdir()
    nbformat.write(tiny_notebook("    return 2 * x"), source / "tiny.ipynb")
    submission = tmp_path / "s" / "tiny.ipynb"
    submission.parent.mkdir()
    nbformat.write(attack("import os\nfound = os.environ.get('LABGPT_TEST_SECRET', '-')\n"
                          "here = sorted(os.listdir('.'))\n"
                          "def double(x):\n    raise RuntimeError(f'env: {found} {here}')"),
                   submission)
    monkeypatch.setenv("LABGPT_TEST_SECRET", SECRET)
    grade = homework.grade_one(submission, source, cell_timeout=20, notebook_timeout=90,
                               isolate=False)
    assert grade.sandbox == "none" and grade.score == 0
    assert "env: - " in grade.exercises[0].error and SECRET not in grade.exercises[0].error
    assert "'submission.ipynb'" in grade.exercises[0].error  # its own folder: its notebook
