"""Hypothesis strategies shared by the property-based tests (bad input at scale)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Every JSON value: what a forged, broken or future webhook body may hold anywhere.
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists (the root included)."""
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths.extend(paths_of(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths.extend(paths_of(child, (*prefix, index)))
    return paths


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of ``value`` with the value at ``path`` replaced by ``new``."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {
            key: replaced(child, rest, new) if key == head else child
            for key, child in value.items()
        }
    return [
        replaced(child, rest, new) if index == head else child for index, child in enumerate(value)
    ]


@st.composite
def mutated(draw: st.DrawFn, documents: list[Any], max_changes: int = 3) -> Any:
    """One of ``documents`` with up to ``max_changes`` values anywhere replaced by any JSON,
    or deleted from their object: real-shaped input that is wrong in depth."""
    document = draw(st.sampled_from(documents))
    for _ in range(draw(st.integers(min_value=1, max_value=max_changes))):
        path = draw(st.sampled_from(paths_of(document)))
        if path and isinstance(path[-1], str) and draw(st.booleans()):
            parent_path = path[:-1]
            parent = document
            for step in parent_path:
                parent = parent[step]
            document = replaced(
                document, parent_path, {k: v for k, v in parent.items() if k != path[-1]}
            )
        else:
            document = replaced(document, path, draw(json_values))
    return document
