"""A shorter switch interval while a model loads beside the serving threads."""

from __future__ import annotations

import sys

import pytest

from fusionrec.serve.background import ShorterSwitchInterval


def test_the_switch_interval_is_shorter_while_any_block_runs_and_restored_after() -> None:
    intervals, before = ShorterSwitchInterval(), sys.getswitchinterval()
    with intervals.active(0.001):
        assert sys.getswitchinterval() == pytest.approx(min(0.001, before))
        with intervals.active(0.002):  # a second load at the same time keeps the shorter one
            assert sys.getswitchinterval() == pytest.approx(min(0.001, before))
        assert sys.getswitchinterval() == pytest.approx(min(0.001, before))
    assert sys.getswitchinterval() == before
    with intervals.active(None):
        assert sys.getswitchinterval() == before


def test_the_interval_is_restored_when_the_block_fails() -> None:
    intervals, before = ShorterSwitchInterval(), sys.getswitchinterval()
    with pytest.raises(RuntimeError), intervals.active(0.001):
        raise RuntimeError("the load failed")
    assert sys.getswitchinterval() == before
