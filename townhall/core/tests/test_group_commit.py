"""Group commit: concurrent submitters share writes, each gets its own result or error."""

from __future__ import annotations

import threading
import time

import pytest

from townhall.core.group_commit import GroupCommit


class SlowStore:
    """Stands in for a database whose commits take a while: what makes grouping pay."""

    def __init__(self, *, fail_on: str | None = None) -> None:
        self.groups: list[list[str]] = []
        self.fail_on = fail_on

    def write(self, items: list[str]) -> list[str]:
        self.groups.append(list(items))
        time.sleep(0.02)
        if self.fail_on in items:
            raise ConnectionError("database gone")
        return [item.upper() for item in items]


def submit_from_threads(group_commit: GroupCommit[str, str], items: list[str]) -> dict[str, object]:
    outcomes: dict[str, object] = {}
    start = threading.Barrier(len(items))

    def run(item: str) -> None:
        start.wait()
        try:
            outcomes[item] = group_commit.submit(item)
        except ConnectionError as error:
            outcomes[item] = error

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return outcomes


def test_threads_arriving_together_share_few_writes_and_each_gets_its_own_result():
    store = SlowStore()
    items = [f"webhook-{index}" for index in range(40)]

    outcomes = submit_from_threads(GroupCommit(store.write, max_group=64), items)

    assert outcomes == {item: item.upper() for item in items}
    assert sorted(item for group in store.groups for item in group) == sorted(items)
    # one write for the first arrival, then the rest of the 40 in a few groups
    assert len(store.groups) < 10


def test_groups_never_exceed_their_size():
    store = SlowStore()
    items = [f"webhook-{index}" for index in range(30)]

    outcomes = submit_from_threads(GroupCommit(store.write, max_group=4), items)

    assert len(outcomes) == 30
    assert max(len(group) for group in store.groups) <= 4


def test_a_failed_write_fails_its_group_only_and_the_next_group_goes_through():
    store = SlowStore(fail_on="webhook-0")
    group_commit = GroupCommit(store.write, max_group=64)

    with pytest.raises(ConnectionError):
        group_commit.submit("webhook-0")
    assert group_commit.submit("webhook-1") == "WEBHOOK-1"

    outcomes = submit_from_threads(group_commit, [f"later-{index}" for index in range(10)])
    assert outcomes == {f"later-{index}": f"LATER-{index}" for index in range(10)}
