"""Route free-form requests to workflows.

`RequestAnalyzer` is the interface; `LexicalAnalyzer` ranks workflows with BM25 over their routing
text (name, title, description, tags, examples). A semantic analyzer can replace it behind the
same interface.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field

from rank_bm25 import BM25Okapi

from nanobrain.core.spec import Runnable

_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "for",
        "from",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "the",
        "this",
        "to",
        "what",
        "with",
        "you",
        "your",
        "can",
        "could",
        "would",
        "should",
        "want",
        "need",
    ]
)
_DOMAINS = {
    "bioinformatics": {
        "fasta",
        "dna",
        "rna",
        "sequence",
        "sequences",
        "gene",
        "protein",
        "orf",
        "gc",
        "genome",
    },
    "data": {
        "csv",
        "table",
        "statistics",
        "column",
        "columns",
        "mean",
        "summary",
        "dataset",
        "data",
    },
    "text": {"text", "words", "sentences", "sentence", "word", "paragraph"},
    "simulation": {"simulate", "simulation", "monte", "carlo", "steps", "random"},
}
_INTENTS = {
    "analyze": {"analyse", "analyze", "analysis", "inspect", "examine"},
    "summarize": {"summarize", "summarise", "summary", "describe", "statistics"},
    "count": {"count", "how", "many", "number"},
    "convert": {"convert", "conversion", "translate", "transform"},
    "simulate": {"simulate", "simulation", "run", "model"},
    "chat": {"hello", "hi", "help", "chat", "talk"},
}


def tokenize(text: str) -> list[str]:
    return [token for token in _TOKEN.findall(text.lower()) if token not in _STOP]


@dataclass(frozen=True)
class RouteDecision:
    workflow: str | None
    confidence: float
    intent: str
    domain: str
    alternatives: list[tuple[str, float]] = field(default_factory=list)


class RequestAnalyzer(ABC):
    @abstractmethod
    def analyze(self, query: str, candidates: Iterable[Runnable]) -> RouteDecision:
        """Pick the best of `candidates` (those the caller may run) for `query`."""


class LexicalAnalyzer(RequestAnalyzer):
    """BM25 over routing text; the index is built once per candidate set and reused."""

    def __init__(self, min_score: float = 0.1):
        self.min_score = min_score
        self._index: tuple[tuple[str, ...], BM25Okapi | None] | None = None

    def _bm25(self, candidates: list[Runnable]) -> BM25Okapi | None:
        names = tuple(candidate.name for candidate in candidates)
        if self._index is None or self._index[0] != names:
            corpus = [tokenize(candidate.routing_text) for candidate in candidates]
            self._index = (names, BM25Okapi(corpus) if corpus else None)
        return self._index[1]

    def analyze(self, query: str, candidates: Iterable[Runnable]) -> RouteDecision:
        pool = sorted(candidates, key=lambda candidate: candidate.name)
        tokens = tokenize(query)
        intent, domain = _classify(tokens)
        bm25 = self._bm25(pool)
        if not tokens or bm25 is None:
            return RouteDecision(None, 0.0, intent, domain)
        scores = [float(score) for score in bm25.get_scores(tokens)]
        ranked = sorted(zip(pool, scores, strict=True), key=lambda pair: -pair[1])
        confidences = _softmax([score for _, score in ranked])
        ranking = [
            (candidate.name, round(confidence, 4))
            for (candidate, score), confidence in zip(ranked, confidences, strict=True)
            if score > self.min_score
        ]
        if not ranking:
            return RouteDecision(None, 0.0, intent, domain)
        best, confidence = ranking[0]
        return RouteDecision(best, confidence, intent, domain, ranking[1:5])


def _softmax(scores: list[float]) -> list[float]:
    if not scores:
        return []
    top = max(scores)
    weights = [math.exp(score - top) for score in scores]
    total = sum(weights)
    return [weight / total for weight in weights]


def _classify(tokens: list[str]) -> tuple[str, str]:
    words = set(tokens)

    def best(table: dict[str, set[str]], default: str) -> str:
        name, overlap = max(
            ((name, len(words & vocab)) for name, vocab in table.items()), key=lambda p: p[1]
        )
        return name if overlap else default

    return best(_INTENTS, "run"), best(_DOMAINS, "general")
