import math

import pytest
import torch

import labgpt
from labgpt.training import make_optimizer


def cyclic_task(block_size=8, batch_size=16):
    """Token i is always followed by (i + 1) % 10: a bigram model can learn it exactly."""
    ids = torch.arange(2000) % 10
    train, val = labgpt.train_val_split(ids)
    return labgpt.lm_batches(train, val, block_size, batch_size)


def run(steps=60, seed=0, **kwargs):
    labgpt.seed_everything(seed)
    model = labgpt.BigramLM(10)
    config = labgpt.TrainConfig(steps=steps, lr=0.1, eval_every=20, eval_batches=2,
                                seed=seed, progress=False, **kwargs)
    return model, config


def comparable(history):
    """Everything a run measured except wall-clock throughput."""
    d = history.to_dict()
    d.pop("tokens_per_s")
    return d


def test_loss_falls_on_a_toy_task(capsys):
    model, config = run()
    history = labgpt.train(model, cyclic_task(), config)
    assert history.train_loss[0] == pytest.approx(math.log(10), abs=1e-4)  # uniform start
    assert history.final_val_loss < 0.2
    assert len(history.train_loss) == 60 and history.val_steps == [20, 40, 60]
    assert "step     60/60 | train" in capsys.readouterr().out


def test_a_quiet_run_prints_nothing_and_learns_the_same(capsys):
    model, config = run()
    loud = labgpt.train(model, cyclic_task(), config)
    capsys.readouterr()
    model, config = run(quiet=True)
    quiet = labgpt.train(model, cyclic_task(), config)
    captured = capsys.readouterr()
    assert captured.out == "" and "train" not in captured.err
    assert comparable(quiet) == comparable(loud)


def test_two_seeded_runs_give_identical_histories():
    histories = []
    for _ in range(2):
        model, config = run(warmup_steps=10)
        histories.append(comparable(labgpt.train(model, cyclic_task(), config)))
    assert histories[0] == histories[1]


class Interrupted(Exception):
    pass


def interrupt_after(get_batch, n_train_batches):
    """A batch function that dies when asked for train batch n + 1, like a killed process."""
    calls = 0

    def wrapped(split, generator):
        nonlocal calls
        if split == "train":
            calls += 1
            if calls > n_train_batches:
                raise Interrupted
        return get_batch(split, generator)

    return wrapped


def test_resume_continues_exactly_as_an_uninterrupted_run(tmp_path):
    model, config = run(steps=60, warmup_steps=10)
    full = labgpt.train(model, cyclic_task(), config)
    full_weights = model.logits_table.weight.detach().clone()

    path = tmp_path / "run.safetensors"
    model, config = run(steps=60, warmup_steps=10, checkpoint_path=str(path), checkpoint_every=25)
    with pytest.raises(Interrupted):
        labgpt.train(model, interrupt_after(cyclic_task(), 37), config)  # last checkpoint: 25

    fresh, _ = run(seed=123)  # a different initialisation, overwritten by the checkpoint
    resumed = labgpt.train(fresh, cyclic_task(), config, resume_from=path)
    assert comparable(resumed) == comparable(full)
    assert torch.equal(fresh.logits_table.weight, full_weights)


def test_checkpoint_round_trip_keeps_tied_weights_and_optimizer(tmp_path):
    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(5, 3)
            self.head = torch.nn.Linear(3, 5, bias=False)
            self.head.weight = self.embed.weight

    model = Tied()
    config = labgpt.TrainConfig(steps=1)
    optimizer = make_optimizer(model, config)
    model.embed.weight.sum().backward()
    optimizer.step()
    path = labgpt.save_checkpoint(tmp_path / "tied.safetensors", model, optimizer,
                                  extra={"note": torch.tensor([7])}, metadata={"step": 1})
    copy = Tied()
    copy_optimizer = make_optimizer(copy, config)
    metadata, extra = labgpt.load_checkpoint(path, copy, copy_optimizer)
    assert metadata == {"step": 1} and extra["note"].item() == 7
    assert torch.equal(copy.embed.weight, model.embed.weight)
    assert copy.head.weight is copy.embed.weight
    state = copy_optimizer.state[copy.embed.weight]
    assert torch.equal(state["exp_avg"], optimizer.state[model.embed.weight]["exp_avg"])


def test_corrupt_or_foreign_checkpoints_are_clear_errors(tmp_path):
    model = labgpt.BigramLM(4)
    path = labgpt.save_checkpoint(tmp_path / "ok.safetensors", model)
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(labgpt.CheckpointError, match="truncated or corrupt"):
        labgpt.load_checkpoint(tmp_path / "cut.safetensors", model)
    (tmp_path / "junk.safetensors").write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(labgpt.CheckpointError, match="not a readable safetensors file"):
        labgpt.load_checkpoint(tmp_path / "junk.safetensors", model)
    with pytest.raises(labgpt.CheckpointError, match="does not fit this model"):
        labgpt.load_checkpoint(path, labgpt.BigramLM(5))
    with pytest.raises(labgpt.CheckpointError, match="does not exist"):
        labgpt.load_checkpoint(tmp_path / "nope.safetensors", model)
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(2)}, tmp_path / "foreign.safetensors")
    with pytest.raises(labgpt.CheckpointError, match="not a labgpt checkpoint"):
        labgpt.load_checkpoint(tmp_path / "foreign.safetensors", model)
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temporary files


def test_schedule_warms_up_then_decays_to_min_lr():
    config = labgpt.TrainConfig(steps=100, lr=1.0, warmup_steps=10)
    lrs = [labgpt.lr_at(step, config) for step in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[9:-1], lrs[10:], strict=True))
    assert lrs[-1] == pytest.approx(0.1, abs=1e-3)
    with pytest.raises(ValueError, match="warmup_steps"):
        labgpt.TrainConfig(steps=10, warmup_steps=11)


def test_another_loss_reuses_the_loop():
    """A loss of (model, batch): here the loss on the second half of each window only, as a
    fine-tuning loss that ignores a prompt would."""
    from labgpt.logprobs import IGNORE_INDEX, lm_loss

    calls = []

    def second_half(model, batch):
        x, y = batch
        calls.append(x.shape)
        logits, _ = model(x)
        y = y.clone()
        y[:, : y.shape[1] // 2] = IGNORE_INDEX
        return lm_loss(logits, y)

    model, config = run(steps=40)
    history = labgpt.train(model, cyclic_task(), config, loss_fn=second_half)
    assert history.final_val_loss < 0.5
    assert len(calls) == 40 + 2 * config.eval_batches  # training steps and both evaluations


def test_a_measure_runs_at_every_evaluation_in_eval_mode_without_gradients():
    seen = []

    def measure(model):
        seen.append((model.training, torch.is_grad_enabled()))
        return {"double_val": 2.0, "step_count": len(seen)}

    model, config = run()
    history = labgpt.train(model, cyclic_task(), config, measure=measure)
    assert seen == [(False, False)] * 3 and model.training
    assert history.measures == {"double_val": [2.0] * 3, "step_count": [1.0, 2.0, 3.0]}
    assert len(history.measures["step_count"]) == len(history.val_steps)
    model, config = run()
    assert comparable(labgpt.train(model, cyclic_task(), config)) == {
        **comparable(history), "measures": {}}  # measuring changes nothing else


def test_a_loss_that_is_not_a_scalar_is_refused():
    model, config = run(steps=2)
    with pytest.raises(ValueError, match="scalar"):
        labgpt.train(model, cyclic_task(), config,
                     loss_fn=lambda m, b: m(b[0])[0].mean(-1))


def test_dict_batches_are_moved_and_counted():
    from labgpt.training import count_targets, to_device

    batch = {"ids": torch.zeros(4, 8, dtype=torch.long), "extra": [torch.zeros(3)]}
    moved = to_device(batch, torch.device("cpu"))
    assert moved["ids"].shape == (4, 8) and isinstance(moved["extra"], list)
    assert count_targets(batch) == 32
    assert count_targets((torch.zeros(2, 3), torch.zeros(2, 5))) == 10
