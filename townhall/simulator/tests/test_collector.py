"""The simulator's process keeps full garbage collections short (see collector)."""

import gc
from collections.abc import Iterator

import pytest

from townhall.simulator import collector
from townhall.simulator.engine import Simulator


@pytest.fixture
def survivors_frozen() -> Iterator[None]:
    collector.freeze_survivors_of_full_collections()
    yield
    gc.callbacks.remove(collector._freeze_after_full_collection)
    gc.unfreeze()


class Stored:
    """A long-lived object in a reference cycle, like the simulator's threads of messages."""

    def __init__(self) -> None:
        self.me = self


def test_a_full_collection_leaves_the_stored_state_out_of_the_next_one(survivors_frozen):
    stored = [Stored() for _ in range(1000)]
    gc.collect()
    frozen = gc.get_freeze_count()
    assert frozen >= len(stored)

    # Garbage made afterwards is still collected, and what was frozen stays frozen.
    garbage = Stored()
    del garbage
    assert gc.collect() >= 1
    assert gc.get_freeze_count() >= frozen


def test_a_reset_gives_the_frozen_state_back_to_the_collector(survivors_frozen, dispatcher):
    simulator = Simulator(dispatcher=dispatcher)
    gc.collect()
    assert gc.get_freeze_count() > 0

    simulator.reset()

    assert gc.get_freeze_count() == 0
