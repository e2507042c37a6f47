"""Connected components over the case–evidence bipartite graph, in memory.

Both the bulk path and the incremental path call `components`, so the two can only
agree. Nodes are small integers; edges join a case node to an evidence node. The
algorithm is min-label propagation with pointer jumping, vectorised with numpy: each
round is a couple of passes over the edge arrays, and rounds are few because labels jump.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from numpy.typing import NDArray

Edge = tuple[int, int, int, str]  # case_id, identifier_id, split tag, strength

CHUNK = 900  # ids per IN (…) list: well under SQLite's and asyncpg's parameter limits


def chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    """Sorted, de-duplicated ids in IN-list sized pieces (sorted keeps lock order stable)."""
    items = sorted(set(ids))
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def components(n_nodes: int, src: NDArray[np.int64], dst: NDArray[np.int64]) -> NDArray[np.int64]:
    """Return, for every node, the smallest node index in its connected component."""
    labels = np.arange(n_nodes, dtype=np.int64)
    if len(src) == 0:
        return labels
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    while True:
        ls, ld = labels[src], labels[dst]
        low = np.minimum(ls, ld)
        changed = bool(np.any(ls != ld))
        if not changed:
            break
        # Hook every endpoint's root to the lower label, then flatten by pointer jumping.
        np.minimum.at(labels, ls, low)
        np.minimum.at(labels, ld, low)
        while True:
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
    return labels


class Interner:
    """Map arbitrary hashable keys to dense node indices."""

    def __init__(self) -> None:
        self.index: dict[object, int] = {}
        self.keys: list[object] = []

    def __call__(self, key: object) -> int:
        idx = self.index.get(key)
        if idx is None:
            idx = len(self.keys)
            self.index[key] = idx
            self.keys.append(key)
        return idx

    def __len__(self) -> int:
        return len(self.keys)


def label_cases(cases: set[int], edges: list[Edge]) -> dict[int, int]:
    """Component of each case, named by its smallest case id (deterministic)."""
    nodes = Interner()
    ordered = sorted(cases)
    for c in ordered:
        nodes(("c", c))
    src = np.fromiter((nodes(("c", e[0])) for e in edges), dtype=np.int64, count=len(edges))
    dst = np.fromiter((nodes(("i", e[1], e[2])) for e in edges), dtype=np.int64, count=len(edges))
    labels = components(len(nodes), src, dst)
    # Smallest node index in a component is a case (cases were interned first, sorted).
    return {c: ordered[int(labels[i])] for i, c in enumerate(ordered)}
