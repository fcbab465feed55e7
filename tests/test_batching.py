import pytest
import torch

import labgpt
from labgpt import batching


def test_split_is_contiguous_and_sized():
    train, val = labgpt.train_val_split(list(range(100)), val_fraction=0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))
    with pytest.raises(ValueError, match="val_fraction"):
        labgpt.train_val_split([1, 2, 3], val_fraction=1.0)


def test_windows_are_shifted_by_one_and_reproducible():
    ids = torch.arange(1000)
    x, y = labgpt.random_windows(ids, 8, 4, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(y, x + 1)  # ids[i] == i, so the next token is x + 1
    x2, _ = labgpt.random_windows(ids, 8, 4, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)


def test_windows_reach_the_last_token_and_refuse_short_text():
    ids = torch.arange(10)
    _, y = labgpt.random_windows(ids, 9, 50, torch.Generator().manual_seed(0))
    assert y.max().item() == 9
    with pytest.raises(ValueError, match="too short for windows of block_size=10"):
        labgpt.random_windows(ids, 10, 1, torch.Generator())


def test_prompt_response_batch_trains_the_response_only():
    x, y = batching.prompt_response_batch([([5, 6, 7], [8, 9]), ([3], [4])], pad_id=0)
    assert x.tolist() == [[5, 6, 7, 8], [3, 4, 0, 0]]
    assert y.tolist() == [[-100, -100, 8, 9], [4, -100, -100, -100]]
    with pytest.raises(ValueError, match="at least one token"):
        batching.prompt_response_batch([([], [1])])
