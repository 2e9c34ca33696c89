"""A rich progress bar over an iterable (to stderr), or a plain pass-through when disabled."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

T = TypeVar("T")


def make_progress() -> Progress:
    """A rich Progress on stderr with count, elapsed and remaining time."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=Console(stderr=True), transient=False)


def progress_bar(items: Iterable[T], description: str, enabled: bool = True) -> Iterator[T]:
    """Yield items while showing a progress bar."""
    if not enabled:
        yield from items
        return
    total = len(items) if isinstance(items, Sized) else None
    with make_progress() as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
