"""The indexes that keep large ecosystems fast answer exactly what the one-pair-at-a-time rules answer.

`graph.Subscriptions` (which publishers reach which worker) against `graph.deliveries` and
`topic_matches`, and the overlap of service paths in ecosystem_rules against comparing each path
with every earlier one, on random ecosystems with wildcards, empty words and nested paths.
"""

from __future__ import annotations

import random

import pytest

from scaffold import ecosystem_rules, graph
from scaffold.model import Ecosystem, Service, TemplateRef

TEMPLATE = TemplateRef(source="builtin", version="0.1.0")
WORDS = ["orders", "item", "published", "deleted", "a", ""]


def _key(rng: random.Random) -> str:
    return ".".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))


def _pattern(rng: random.Random) -> str:
    return ".".join(rng.choice([*WORDS, "*", "#", "#"]) for _ in range(rng.randint(1, 4)))


def random_ecosystem(rng: random.Random) -> Ecosystem:
    services = []
    for index in range(rng.randint(2, 25)):
        if rng.random() < 0.5:
            publishes = tuple(dict.fromkeys(_key(rng) for _ in range(rng.randint(0, 3))))
            services.append(
                Service(f"b{index}", "backend", f"services/b{index}", 8000 + index, None, TEMPLATE, publishes=publishes)
            )
        else:
            subscribes = tuple(dict.fromkeys(_pattern(rng) for _ in range(rng.randint(1, 3))))
            services.append(
                Service(
                    f"w{index}", "worker", f"services/w{index}", 8000 + index, None, TEMPLATE, subscribes=subscribes
                )
            )
    return Ecosystem("shop", "", "r.example.com/shop", TEMPLATE, (), tuple(services))


@pytest.mark.parametrize("seed", range(40))
def test_the_subscription_index_finds_what_matching_each_pair_finds(seed: int) -> None:
    ecosystem = random_ecosystem(random.Random(seed))
    index = graph.Subscriptions(ecosystem)
    workers = [s for s in ecosystem.services if s.kind == "worker"]
    for worker in workers:
        expected = sorted({p.name for p in ecosystem.services if graph.deliveries(p, worker)})
        assert index.publishers(worker) == expected
        for publisher in ecosystem.services:
            assert index.deliveries(publisher, worker) == graph.deliveries(publisher, worker)


def _pairwise_first_overlap(path: str, earlier: list[tuple[str, str]]) -> tuple[str, str] | None:
    for name, other in earlier:
        if path == other or path.startswith(other + "/") or other.startswith(path + "/"):
            return name, other
    return None


@pytest.mark.parametrize("seed", range(40))
def test_the_path_index_finds_the_first_overlap_comparing_each_pair_finds(seed: int) -> None:
    rng = random.Random(seed)
    parts = ["services", "a", "b", "ab", "a-b"]
    seen: list[tuple[str, str]] = []
    paths = ecosystem_rules._Paths()
    for index in range(rng.randint(2, 30)):
        path = "/".join(rng.choice(parts) for _ in range(rng.randint(1, 4)))
        assert paths.first_overlap(path) == _pairwise_first_overlap(path, seen)
        paths.add(f"s{index}", path)
        seen.append((f"s{index}", path))
