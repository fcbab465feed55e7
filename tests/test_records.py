import json

import pytest
import torch

from labgpt import CorruptDataError, records
from labgpt.records import RECIPES, Recipe

TOY_MODULE = """
import torch


def make_toy(n):
    return {"squares": [i * i for i in range(n)], "label": "toy"}


def make_toy_weights(seed):
    g = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(3, 4, generator=g)}, {"norm": 1.0}
"""


@pytest.fixture
def toy_recipes(monkeypatch, tmp_path_factory):
    """Two throwaway recipes, numbers and weights, made by a module written for the test."""
    folder = tmp_path_factory.mktemp("recipes")
    (folder / "toy_recipes.py").write_text(TOY_MODULE)
    monkeypatch.syspath_prepend(str(folder))
    extra = {
        "toy": Recipe("toy", "json", "toy_recipes:make_toy", "numbers", {"n": 3}, 0.01),
        "toy_weights": Recipe("toy_weights", "weights", "toy_recipes:make_toy_weights",
                              "weights", {"seed": 1}),
    }
    monkeypatch.setattr(records, "RECIPES", {**RECIPES, **extra})
    return extra


def test_a_record_round_trips_with_its_provenance(tmp_path, toy_recipes):
    path = records.make("toy", tmp_path)
    record = records.load("toy", tmp_path)
    assert record.result == {"squares": [0, 1, 4], "label": "toy"}
    assert record.config == {"n": 3}
    assert record.command == "python -m labgpt.records make toy"
    assert record.made_with["torch"] == torch.__version__.split("+")[0]
    assert record.sha256 in (tmp_path / "SHA256SUMS").read_text()
    assert path.name in record.describe() and "python -m labgpt.records make toy" in \
        record.describe()


def test_weights_records_keep_tensors_and_numbers(tmp_path, toy_recipes):
    path = records.make("toy_weights", tmp_path)
    assert path.stat().st_mode & 0o777 == 0o644  # readable by every user of an install
    record = records.load("toy_weights", tmp_path)
    assert torch.equal(record.state_dict["w"], torch.randn(3, 4, generator=torch.Generator(
    ).manual_seed(1)))
    assert record.result == {"norm": 1.0}


def test_an_edited_record_is_refused(tmp_path, toy_recipes):
    path = records.make("toy", tmp_path)
    data = json.loads(path.read_text())
    data["result"]["squares"][2] = 5
    path.write_text(json.dumps(data))
    with pytest.raises(CorruptDataError, match="sha256"):
        records.load("toy", tmp_path)


def test_a_missing_or_unlisted_record_says_how_to_make_it(tmp_path, toy_recipes):
    with pytest.raises(FileNotFoundError, match="python -m labgpt.records make toy"):
        records.load("toy", tmp_path)
    records.make("toy", tmp_path)
    (tmp_path / "SHA256SUMS").write_text("")
    with pytest.raises(CorruptDataError, match="not listed"):
        records.load("toy", tmp_path)
    with pytest.raises(KeyError, match="known records"):
        records.load("nope", tmp_path)


def test_differences_respect_the_tolerance():
    shipped = {"runs": [{"loss": 2.50, "pre_ln": True}], "steps": 200}
    assert records.differences({"runs": [{"loss": 2.505, "pre_ln": True}], "steps": 200},
                               shipped, 0.01) == []
    diffs = records.differences({"runs": [{"loss": 2.6, "pre_ln": False}], "steps": 200},
                                shipped, 0.01)
    assert len(diffs) == 2 and "result.runs[0].loss" in diffs[0]


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_shipped_record_loads(name):
    record = records.load(name)
    assert record.result and record.command.endswith(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_a_record_remade_from_scratch_matches_the_shipped_one(name, tmp_path):
    """Minutes each (see ``python -m labgpt.records list``): run with ``pytest -m slow``."""
    records.make(name, tmp_path)
    fresh, shipped = records.load(name, tmp_path), records.load(name)
    assert records.differences(fresh.result, shipped.result, RECIPES[name].tolerance) == []
