"""How the book reaches readers: one repository address, launch buttons that work (Colab,
Binder), install instructions that agree, and GitHub workflows that validate."""

import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
URL = CONFIG["repository"]["url"]
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CHAPTERS = [ROOT / f"{c['file']}.ipynb" for part in TOC["parts"] for c in part["chapters"]
            if (ROOT / f"{c['file']}.ipynb").exists()]


def colab_cell(path: Path) -> str:
    nb = json.loads(path.read_text())
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert first.get("id") == "colab-install", f"{path.name}: the first code cell is not Colab's"
    return "".join(first["source"])


def readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S)


def test_the_repository_address_is_set_once_and_every_copy_agrees():
    owner, name = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", URL).groups()
    assert CONFIG["parse"]["myst_substitutions"]["repository"] == URL  # the YAML alias
    readme = (ROOT / "README.md").read_text()
    assert URL in readme and f"https://{owner}.github.io/{name}/" in readme
    intro = (ROOT / "book" / "intro.md").read_text()
    assert "{{ repository }}" in intro and "github.com" not in intro  # read from the setting
    for path in CHAPTERS:
        assert f"git+{URL}" in colab_cell(path), path.name
    others = {u for f in [ROOT / "README.md", *CHAPTERS]
              for u in re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", f.read_text())}
    assert others == {URL}, f"other repository addresses: {others - {URL}}"


def test_every_chapter_starts_with_the_same_colab_cell():
    cells = {path.name: colab_cell(path) for path in CHAPTERS}
    assert len(set(cells.values())) == 1, "the Colab cells differ"
    assert len(cells) >= 17


@pytest.mark.parametrize("on_colab", [True, False])
def test_the_colab_cell_installs_labgpt_on_colab_and_does_nothing_elsewhere(monkeypatch,
                                                                            on_colab):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append((a, k)))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(colab_cell(CHAPTERS[0]), "colab-install", "exec"), {})
    if not on_colab:
        assert calls == []
        return
    (args,), kwargs = calls[0]
    assert args[:4] == [sys.executable, "-m", "pip", "install"]
    assert args[-1] == f"labgpt @ git+{URL}" and kwargs == {"check": True}


def test_binder_installs_the_cpu_wheel_then_labgpt():
    pin = re.search(r"torch==[\d.]+", (ROOT / ".ci" / "run").read_text()).group()
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines and pin in lines
    post = ROOT / "binder" / "postBuild"
    assert post.stat().st_mode & 0o111, "postBuild must be executable"
    assert "pip install --no-cache-dir -e ." in post.read_text()


def test_install_instructions_agree_and_take_the_cpu_wheel_first():
    setup = "python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 && " \
            '.venv/bin/pip install -e ".[dev]"'
    build, tests = readme_commands()[:2]
    assert build.startswith(setup) and tests.startswith(setup)
    assert setup in (ROOT / "book" / "intro.md").read_text()
    assert "pip install -q torch==2.13.0" in (ROOT / ".ci" / "run").read_text()


def _workflow(name):
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def test_the_workflows_validate_against_githubs_schema():
    checker = shutil.which("check-jsonschema") or str(Path(sys.executable).parent /
                                                       "check-jsonschema")
    if not Path(checker).exists():
        pytest.fail("check-jsonschema is missing: pip install -e '.[dev]'")
    files = sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    done = subprocess.run([checker, "--builtin-schema", "vendor.github-workflows", *files],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    steps = _workflow("ci.yml")["jobs"]["ci"]["steps"]
    assert any(s.get("run") == "bash .ci/run" for s in steps)


def test_the_deploy_workflow_builds_with_the_readmes_command_and_publishes_pages():
    wf = _workflow("deploy.yml")
    build = " ".join(s["run"] for s in wf["jobs"]["build"]["steps"] if "run" in s)
    assert " ".join(build.split()) == " ".join(readme_commands()[0].split())
    uses = [s.get("uses", "") for job in wf["jobs"].values() for s in job["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact") for u in uses)
    assert any(u.startswith("actions/deploy-pages") for u in uses)
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
