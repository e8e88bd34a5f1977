"""Plain-text statistics, and `echo`: the lightest possible workflow."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Annotated

from pydantic import BaseModel, Field

from nanobrain.core import Context, workflow

_WORD = re.compile(r"\w+(?:['\u2019-]\w+)*")  # keeps "don't" and "well-known" whole
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_STOP_WORDS_TEXT = """
a an and are as at be but by for from had has have he her his i in is it its of on or she so
that the their they this to was were which with you your not no we our us
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


class TermCount(BaseModel):
    term: str
    count: int


class TextStats(BaseModel):
    """Counts for a text and its most frequent words."""

    characters: int
    words: int
    sentences: int
    average_word_length: float
    top_terms: list[TermCount]


class Echo(BaseModel):
    message: str


def _stats(text: str, top: int) -> TextStats:
    words = _WORD.findall(text)
    sentences = sum(1 for part in _SENTENCE_END.split(text) if any(c.isalnum() for c in part))
    counts = Counter(w.casefold() for w in words if w.casefold() not in STOP_WORDS)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    return TextStats(
        characters=len(text),
        words=len(words),
        sentences=sentences,
        average_word_length=round(sum(map(len, words)) / len(words), 2) if words else 0.0,
        top_terms=[TermCount(term=term, count=count) for term, count in ranked],
    )


@workflow(
    name="text-stats",
    tags=["text", "nlp", "statistics"],
    examples=["count the words in this text", "most frequent words", "how many sentences"],
)
async def text_stats(
    ctx: Context,
    text: Annotated[str, Field(max_length=1_000_000, description="The text to analyse")],
    top: Annotated[int, Field(ge=1, le=100, description="How many frequent words to list")] = 10,
) -> TextStats:
    """Count the characters, words and sentences of a text and list its most frequent words.

    Common words such as "the" and "and" are left out of the frequent words, and case is ignored.
    """
    return await asyncio.to_thread(_stats, text, top)


@workflow(name="echo", tags=["test"], examples=["echo a message back"])
async def echo(ctx: Context, message: str = "") -> Echo:
    """Send back the message it is given: a quick way to check the service works."""
    return Echo(message=message)
