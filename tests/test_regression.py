"""In-context linear regression: prompts, the Transformer over vectors, the baselines."""

import pytest
import torch

from labgpt import regression


def prompts(batch=16, points=8, dim=4, active=None, seed=0):
    return regression.regression_prompts(batch, torch.Generator().manual_seed(seed),
                                         points=points, dim=dim, active=active)


def test_prompts_follow_one_linear_function_each():
    xs, ys = prompts()
    assert xs.shape == (16, 8, 4) and ys.shape == (16, 8)
    w = torch.linalg.lstsq(xs, ys[..., None]).solution  # 8 points recover each prompt's w
    assert torch.allclose(xs @ w, ys[..., None], atol=1e-4)
    assert not torch.allclose(w[0], w[1])  # a fresh w per prompt
    xs, _ = prompts(active=2)
    assert (xs[:, :, 2:] == 0).all() and (xs[:, :, :2] != 0).all()
    with pytest.raises(ValueError, match="active"):
        prompts(active=5)


def test_least_squares_is_exact_once_the_examples_pin_w_down():
    xs, ys = prompts(batch=64, points=8, dim=4)
    err = regression.squared_error(regression.least_squares(xs, ys), ys, dim=4)
    assert err.shape == (8,)
    assert 0.5 < err[0] < 1.5  # predicting 0: about the variance of y, d
    assert err[1] > err[2] > err[3] > 1e-3  # fewer examples than dimensions: partly known
    assert (err[4:] < 1e-6).all()  # 4 examples in 4 dimensions: exact


def test_the_weaker_baselines_predict_from_earlier_pairs_only():
    xs, ys = prompts()
    for baseline in (regression.nearest_neighbour, regression.averaging):
        pred = baseline(xs, ys)
        assert pred.shape == ys.shape and (pred[:, 0] == 0).all()
        changed = ys.clone()
        changed[:, 5:] += 10  # later targets must not move earlier predictions
        assert torch.equal(baseline(xs, changed)[:, :6], pred[:, :6])
    nn_pred = regression.nearest_neighbour(xs, ys)
    near = torch.cdist(xs[0, 3:4], xs[0, :3]).argmin()
    assert nn_pred[0, 3] == ys[0, near]


def test_the_regressor_is_causal_and_checks_its_inputs():
    torch.manual_seed(0)
    model = regression.InContextRegressor(dim=4, points=8, n_layer=2, n_embd=32).eval()
    xs, ys = prompts()
    pred = model(xs, ys)
    assert pred.shape == (16, 8)
    changed = ys.clone()
    changed[:, 3] += 5  # y_3 may inform predictions 4.. but not 0..3
    again = model(xs, changed)
    assert torch.allclose(again[:, :4], pred[:, :4], atol=1e-6)
    assert not torch.allclose(again[:, 4:], pred[:, 4:])
    with pytest.raises(ValueError, match="expected xs"):
        model(xs[:, :, :3], ys)
    with pytest.raises(ValueError, match="expected xs"):
        model(*prompts(points=9))


def test_a_short_training_run_lowers_the_error():
    model, history = regression.train_regressor(steps=60, seed=0, n_layer=1, n_embd=32)
    assert len(history.train_loss) == 60
    assert history.val_loss[-1] < history.val_loss[0]
