"""Short pauses of Python's cyclic garbage collector in the simulator's process.

A full collection walks every object the collector tracks while holding the GIL: no send is
answered meanwhile. Every message the simulator was sent stays in its memory, so during a
broadcast of 20,000 at 1,000 msg/s its full collections took 100-230 ms; the sends that
waited were then answered in one burst and counted against the rolling second (130429),
although they had arrived on schedule (Meta counts them as they arrive).
"""

import gc
from typing import Any

OLDEST_GENERATION = 2


def freeze_start_up_objects() -> None:
    """Leave what exists now (modules, settings, the engine: it lives as long as the
    process) out of every later collection (``gc.freeze``); collections then walk only
    what the process made since."""
    gc.collect()
    gc.freeze()


def freeze_survivors_of_full_collections() -> None:
    """For a process whose long-lived state keeps growing (the simulator's in-memory
    messages): what survives a full collection is frozen as well, so the next one walks
    only the objects made since, not the whole store again.

    The price: garbage cycles among frozen objects are not collected (plain reference
    counting still frees everything else) until ``thaw`` is called, e.g. when the state is
    reset."""
    if _freeze_after_full_collection not in gc.callbacks:
        gc.callbacks.append(_freeze_after_full_collection)


def thaw() -> None:
    """Give frozen objects back to the collector (after the long-lived state was dropped)."""
    gc.unfreeze()


def _freeze_after_full_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] == OLDEST_GENERATION:
        gc.freeze()
