import pytest
import torch

from labgpt.checks import CheckFailed, check_cross_entropy, check_shape


def good(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    return -log_probs[torch.arange(len(targets)), targets].mean()


def test_a_correct_answer_passes(capsys):
    check_cross_entropy(good)
    assert "passes all" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda lg, t: -good(lg, t), "wrong sign"),
        (lambda lg, t: good(lg, t).repeat(len(t)), r"scalar \(shape \(\)\), got shape \(4,\)"),
        (lambda lg, t: good(lg, t) * 2, "differs from the expected values"),
        (
            lambda lg, t: -torch.log(
                torch.exp(lg) / torch.exp(lg).sum(-1, keepdim=True)
            )[torch.arange(len(t)), t].mean(),
            "overflows on logits near 1000",
        ),
    ],
)
def test_wrong_answers_are_told_what_is_wrong(answer, message):
    with pytest.raises(CheckFailed, match=message):
        check_cross_entropy(answer)


def test_check_shape_names_both_shapes():
    with pytest.raises(CheckFailed, match=r"expected shape \(2, 8\), got \(8, 2\)"):
        check_shape(torch.zeros(8, 2), (2, 8), "x")
