"""The generic registry behind the loss and item-graph extension points."""

from __future__ import annotations

import math

import pytest

from fusionrec.errors import ConfigError
from fusionrec.models.registry import Registry


def test_a_builtin_is_imported_on_first_use_and_stays() -> None:
    constants = Registry[float]("constant", {"pi": "math:pi"}, adder="register_constant")
    assert constants.get("pi") == math.pi
    with pytest.raises(ConfigError, match=r"'pi' is not a removable registered constant; registered: \['pi'\]"):
        constants.unregister("pi")


def test_an_added_entry_can_be_removed_and_a_taken_name_is_refused() -> None:
    graphs = Registry[int]("item-graph builder", {}, adder="register_item_graph")
    graphs.register("one", 1)
    with pytest.raises(ConfigError, match="an item-graph builder named 'one' is already registered"):
        graphs.register("one", 2)
    assert graphs.get("one") == 1 and graphs.names() == frozenset({"one"})
    graphs.unregister("one")
    with pytest.raises(ConfigError, match=r"unknown item-graph builder 'one'; registered: \[\]; register_item_graph"):
        graphs.get("one")
