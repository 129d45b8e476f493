"""Which corpus a script works on, and which of its benchmarks: ``--corpus``, ``--split``, ``--benchmarks``."""

from __future__ import annotations

from pathlib import Path

from mlgo_env.corpus import Corpus, default_corpus

__all__ = ["list_benchmarks", "load_corpus", "resolve_split", "short_name"]


def load_corpus(corpus: str | Path | None = None) -> Corpus:
    """The corpus at `corpus`, or the bundled programs when it is empty or None."""
    return Corpus.load(corpus) if corpus else default_corpus()


def resolve_split(split: str | None, corpus: str | Path | None = None) -> str | None:
    """`split`, or None (every module) when the corpus records no split at all.

    A corpus built from a user's build (``mlgo-env corpus build``) has no train/test split: a
    script asked for one works on the whole corpus rather than on nothing.
    """
    loaded = load_corpus(corpus)
    if split and not any(b.split for b in loaded.benchmarks()):
        print(f"corpus {loaded.name!r} records no splits: using all its {len(loaded)} modules, not split {split!r}")
        return None
    return split or None


def list_benchmarks(split: str | None, corpus: str | Path | None = None) -> list[str]:
    """Names of the corpus's benchmarks in `split` (every module when the corpus records no splits).

    Raises:
        ValueError: the corpus has splits, but none named `split`.
    """
    loaded = load_corpus(corpus)
    names = [b.name for b in loaded.benchmarks(resolve_split(split, corpus))]
    if not names:
        raise ValueError(
            f"corpus {loaded.name!r} has no benchmarks in split {split!r}; record the split in "
            "benchmarks/programs/split.json or pass --benchmarks"
        )
    return names


def short_name(benchmark: str) -> str:
    """``benchmark://mlgo-v0/sha256`` → ``sha256``; a module path (``src/lapi``) stays whole."""
    if "://" in benchmark:
        return benchmark.split("://", 1)[1].split("/", 1)[1]
    return benchmark
