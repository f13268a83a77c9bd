"""The test harness itself: per-image tolerances."""
from __future__ import annotations

import numpy as np
import pytest
from mxcases import assert_close


def test_assert_close_scales_each_image_by_its_own_maximum():
    """An error of 1e-6 on an image whose values are 1e-3 is 1e-3 of its scale, even beside a larger image."""
    reference = np.stack([np.ones((3, 4), np.float32), np.full((3, 4), 1e-3, np.float32)])
    actual = reference.copy()
    actual[1, 2, 3] += 1e-6
    with pytest.raises(AssertionError, match="image 1"):
        assert_close([reference], [actual])
    assert assert_close([reference], [actual], rel=2e-3) == pytest.approx(1e-3, rel=1e-3)


def test_assert_close_whole_array_without_batch_axis():
    reference = np.array([1.0, 1e-3], np.float32)
    assert assert_close([reference], [reference + np.float32(1e-6)]) == pytest.approx(1e-6, rel=1e-2)


def test_assert_close_zero_image_must_match_exactly():
    reference = np.zeros((2, 3), np.float32)
    reference[0] = 1.0
    assert assert_close([reference], [reference.copy()]) == 0.0
    actual = reference.copy()
    actual[1, 0] = 1e-20
    with pytest.raises(AssertionError, match="inf"):
        assert_close([reference], [actual])
