import time

import pytest

from labgpt.measure import best_time


def test_best_time_is_the_fastest_call():
    delays = iter([0.0, 0.05, 0.01, 0.03])  # warm-up, then three timed calls
    seconds = best_time(lambda: time.sleep(next(delays)), repeats=3, warmup=1)
    assert 0.009 <= seconds < 0.03


def test_best_time_refuses_no_repeats():
    with pytest.raises(ValueError, match="repeats"):
        best_time(lambda: None, repeats=0)


def test_timed_returns_the_result_and_the_time():
    from labgpt.measure import timed

    result, seconds = timed(lambda: time.sleep(0.01) or 42)
    assert result == 42 and seconds >= 0.009
