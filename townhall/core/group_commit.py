"""Group commit: writes that threads of one process submit at the same moment go to the
database together, in one statement and one commit.

Each webhook must be durable before it is acknowledged, so under load every request thread
waits for a commit of its own; the commits (and the round trips) dominate intake. Here the
first thread to arrive writes everything waiting at that moment; threads arriving meanwhile
wait, and the first of them writes the next group once the current one is done. No thread
returns before its own row is committed, and none writes more than one group, so a busy
moment never makes one request carry the others for long.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Entry(Generic[Item, Result]):
    item: Item
    # Set when the result (or the error) is there, or when this thread is to write a group.
    done: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    result: Result | None = None
    error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """``submit(item)`` returns ``write(group)``'s result for ``item``, where ``group`` holds
    the items other threads submitted at about the same time (at most ``max_group``).
    ``write`` returns one result per item, in order; if it raises, every item of its group
    gets the error."""

    def __init__(self, write: Callable[[list[Item]], list[Result]], *, max_group: int) -> None:
        self._write = write
        self._max_group = max_group
        self._lock = threading.Lock()
        self._waiting: list[_Entry[Item, Result]] = []
        self._writing = False

    def submit(self, item: Item) -> Result:
        entry: _Entry[Item, Result] = _Entry(item)
        with self._lock:
            self._waiting.append(entry)
            if not self._writing:
                self._writing = entry.leads = True
        if not entry.leads:
            entry.done.wait()
        if entry.leads:
            self._write_group()
        if entry.error is not None:
            raise entry.error
        return entry.result  # type: ignore[return-value]

    def _write_group(self) -> None:
        with self._lock:
            group = self._waiting[: self._max_group]
            del self._waiting[: self._max_group]
        try:
            results = self._write([entry.item for entry in group])
            if len(results) != len(group):
                raise RuntimeError(f"{len(results)} results for a group of {len(group)}")
            for entry, result in zip(group, results, strict=True):
                entry.result = result
        except BaseException as error:
            for entry in group:
                entry.error = error
        finally:
            with self._lock:
                if self._waiting:
                    # The first of those who came meanwhile writes the next group.
                    following = self._waiting[0]
                    following.leads = True
                    following.done.set()
                else:
                    self._writing = False
            for entry in group:
                entry.leads = False
                entry.done.set()
