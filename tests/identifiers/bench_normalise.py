"""Throughput of `normalise` on a bulk-import-like mix (run by hand, not collected by pytest).

    .venv/bin/python tests/identifiers/bench_normalise.py

200k values, half phones in the usual spellings (95% Kazakh mobiles, 5% landlines and
foreign numbers), half cards with random separators; every value distinct, so the
lru_cache does not help (the worst case for a first import).
"""

from __future__ import annotations

import contextlib
import random
import time

from hq.identifiers import _memoised, make_card, normalise
from hq.identifiers.phone import FAST_PREFIXES, _caption_slow, parse_slow_cached

PEPPER = b"bench-pepper"


def phones(rng: random.Random, n: int) -> list[str]:
    prefixes = sorted(FAST_PREFIXES)
    out = []
    for _ in range(n):
        if rng.random() < 0.95:
            d = rng.choice(prefixes) + f"{rng.randrange(10_000_000):07d}"
            style = rng.randrange(5)
            out.append(
                [
                    f"8 {d[:3]} {d[3:6]} {d[6:8]} {d[8:]}",
                    f"+7 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
                    f"7{d}",
                    f"8({d[:3]}){d[3:]}.",
                    f"{d[:3]} {d[3:6]} {d[6:8]} {d[8:]}",
                ][style]
            )
        else:
            out.append(
                rng.choice(["+7 7172 ", "8 727 ", "+998 90 ", "+7 916 "])
                + f"{rng.randrange(1_000_000, 9_999_999)}"
            )
    return out


def cards(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        pan = make_card(rng.choice(["4042", "5169", "4400", "5522"]), rng)
        out.append(
            rng.choice(
                [
                    pan,
                    " ".join(pan[i : i + 4] for i in range(0, 16, 4)),
                    "-".join(pan[i : i + 4] for i in range(0, 16, 4)),
                ]
            )
        )
    return out


def main() -> None:
    rng = random.Random(2024)
    values = [("phone", v) for v in phones(rng, 100_000)] + [
        ("card", v) for v in cards(rng, 100_000)
    ]
    rng.shuffle(values)
    parse_slow_cached.cache_clear()
    _caption_slow.cache_clear()
    _memoised.cache_clear()
    errors = 0
    start = time.perf_counter()
    for kind, raw in values:
        try:
            normalise(kind, raw, pepper=PEPPER)
        except ValueError:
            errors += 1
    elapsed = time.perf_counter() - start
    per_value = elapsed / len(values) * 1e6
    print(f"cold: {len(values)} in {elapsed:.2f} s = {per_value:.2f} µs/value, {errors} invalid")
    start = time.perf_counter()
    for kind, raw in values:
        with contextlib.suppress(ValueError):
            normalise(kind, raw, pepper=PEPPER)
    elapsed = time.perf_counter() - start
    print(f"second pass (phones partly cached): {elapsed / len(values) * 1e6:.2f} µs/value")


if __name__ == "__main__":
    main()
