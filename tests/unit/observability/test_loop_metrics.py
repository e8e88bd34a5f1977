"""Lock-free counters and histograms (`nanobrain.observability.loop_metrics`): what `/metrics`
shows must be what prometheus_client's own metrics show for the same updates."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import REGISTRY, Counter, Histogram, generate_latest

from nanobrain.observability.loop_metrics import DEFAULT_BUCKETS, LoopCounter, LoopHistogram

_SEQUENCE = itertools.count()


@pytest.fixture
def unique() -> Iterator[Callable[[str], str]]:
    """Metric names no other test (or the app's own metrics) uses; their collectors are
    unregistered afterwards."""
    names: list[str] = []

    def make(kind: str) -> str:
        name = f"test_loop_metrics_{kind}_{next(_SEQUENCE)}"
        names.append(name)
        return name

    yield make
    ours = {
        REGISTRY._names_to_collectors[name]
        for name in names
        if name in REGISTRY._names_to_collectors
    }
    for collector in ours:
        REGISTRY.unregister(collector)


def exposition() -> list[str]:
    return generate_latest().decode().splitlines()


def samples(name: str) -> list[str]:
    """The sample lines of one metric family, without prometheus_client's `_created`."""
    return [
        line
        for line in exposition()
        if line.startswith(name)
        and line[len(name)] in "_{ "
        and not line.startswith(f"{name}_created")
    ]


def test_counter_totals_per_label_set(unique: Callable[[str], str]) -> None:
    name = unique("counter")
    counter = LoopCounter(name, "requests by route and code", ["route", "code"])
    counter.labels("/run", "200").inc()
    counter.labels("/run", "200").inc(2.5)
    counter.labels("/files", 404).inc()  # type: ignore[arg-type]  # values become strings
    counter.labels("/files", "404").inc(3)
    counter.labels("/idle", "204")  # created, never incremented

    lines = samples(name)
    assert f'{name}_total{{code="200",route="/run"}} 3.5' in lines
    assert f'{name}_total{{code="404",route="/files"}} 4.0' in lines
    assert f'{name}_total{{code="204",route="/idle"}} 0.0' in lines
    assert len([line for line in lines if line.startswith(f"{name}_total")]) == 3
    assert f"# TYPE {name}_total counter" in exposition()
    assert f"# HELP {name}_total requests by route and code" in exposition()


def test_counter_matches_prometheus_client(unique: Callable[[str], str]) -> None:
    ours_name, theirs_name = unique("counter"), unique("counter")
    ours = LoopCounter(ours_name, "doc", ["kind"])
    theirs = Counter(theirs_name, "doc", ["kind"])
    for kind, amount in [("a", 1), ("b", 0.1), ("a", 0.2), ("b", 7), ("c", 0)]:
        ours.labels(kind).inc(amount)
        theirs.labels(kind).inc(amount)
    renamed = [line.replace(theirs_name, ours_name) for line in samples(theirs_name)]
    assert sorted(samples(ours_name)) == sorted(renamed)


def test_histogram_cumulative_buckets(unique: Callable[[str], str]) -> None:
    name = unique("histogram")
    histogram = LoopHistogram(name, "durations", ["workflow"], buckets=[1, 0.1, 0.5])  # unsorted
    child = histogram.labels("w")
    observations = [0.05, 0.1, 0.3, 0.5, 0.7, 1.0, 2.0, 100.0]  # 0.1, 0.5 and 1.0 on a bound
    for value in observations:
        child.observe(value)
    histogram.labels("empty")

    lines = samples(name)
    assert lines == [
        f'{name}_bucket{{le="0.1",workflow="w"}} 2.0',  # `le` is inclusive: 0.1 counts here
        f'{name}_bucket{{le="0.5",workflow="w"}} 4.0',
        f'{name}_bucket{{le="1.0",workflow="w"}} 6.0',
        f'{name}_bucket{{le="+Inf",workflow="w"}} 8.0',
        f'{name}_count{{workflow="w"}} 8.0',
        f'{name}_sum{{workflow="w"}} {sum(observations)!r}',
        f'{name}_bucket{{le="0.1",workflow="empty"}} 0.0',
        f'{name}_bucket{{le="0.5",workflow="empty"}} 0.0',
        f'{name}_bucket{{le="1.0",workflow="empty"}} 0.0',
        f'{name}_bucket{{le="+Inf",workflow="empty"}} 0.0',
        f'{name}_count{{workflow="empty"}} 0.0',
        f'{name}_sum{{workflow="empty"}} 0.0',
    ]
    assert f"# TYPE {name} histogram" in exposition()


@pytest.mark.parametrize(
    "buckets",
    [
        DEFAULT_BUCKETS,
        (0.001, 0.01, 0.1, 1.0, 10.0),
        (1, 2, 5, 10, 100),
        (0.25,),
    ],
)
def test_histogram_matches_prometheus_client(
    unique: Callable[[str], str], buckets: tuple[float, ...]
) -> None:
    ours_name, theirs_name = unique("histogram"), unique("histogram")
    ours = LoopHistogram(ours_name, "doc", ["a", "b"], buckets=buckets)
    theirs = Histogram(theirs_name, "doc", ["a", "b"], buckets=buckets)
    # Every bound exactly, just below and just above it, zero, negatives and far beyond.
    observations = [0.0, -1.0, 1e9]
    for bound in buckets:
        observations += [float(bound), float(bound) * 0.999, float(bound) * 1.001]
    observations += [i / 37 for i in range(200)]
    for index, value in enumerate(observations):
        labels = ("x", str(index % 3))
        ours.labels(*labels).observe(value)
        theirs.labels(*labels).observe(value)
    ours.labels("unused", "0")
    theirs.labels("unused", "0")

    renamed = [line.replace(theirs_name, ours_name) for line in samples(theirs_name)]
    ours_lines = samples(ours_name)
    assert sorted(ours_lines) == sorted(renamed)
    assert len([line for line in ours_lines if "_bucket" in line]) == 4 * (len(buckets) + 1)


def test_wrong_label_count_raises(unique: Callable[[str], str]) -> None:
    counter = LoopCounter(unique("counter"), "doc", ["a", "b"])
    histogram = LoopHistogram(unique("histogram"), "doc", ["a"])
    unlabelled = LoopCounter(unique("counter"), "doc", [])
    with pytest.raises(ValueError):
        counter.labels("only one")
    with pytest.raises(ValueError):
        counter.labels("one", "two", "three")
    with pytest.raises(ValueError):
        histogram.labels()
    with pytest.raises(ValueError):
        histogram.labels("one", "two")
    with pytest.raises(ValueError):
        unlabelled.labels("extra")
    unlabelled.labels().inc()
    assert f"{unlabelled.name}_total 1.0" in exposition()


def test_same_name_twice_is_refused(unique: Callable[[str], str]) -> None:
    name = unique("counter")
    LoopCounter(name, "doc", ["a"])
    with pytest.raises(ValueError):
        LoopCounter(name, "doc", ["a"])
