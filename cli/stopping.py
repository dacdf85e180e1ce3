"""Ctrl-C and SIGTERM as a clean stop for long-running commands."""

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cancel_on_signals() -> Iterator[None]:
    """The first SIGINT/SIGTERM cancels the current task, so its cleanup runs; later ones wait.

    The body catches asyncio.CancelledError to finish quietly.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    fired = False

    def stop() -> None:
        nonlocal fired
        if not fired:
            fired = True
            task.cancel()

    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


@contextmanager
def set_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set `stop`, for code that winds down on its own (the worker)."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
