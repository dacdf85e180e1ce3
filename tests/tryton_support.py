"""A real Tryton ERP for the tests that import this module: one trytond for the session, on a
copy of the prepared database (stack/tryton.py), under the suite's own data dir."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.tryton import TrytonServer, prepare_template, running_tryton

# Kept between runs: the prepared database is rebuilt only when Tryton's modules change.
DATA_DIR = Path(__file__).resolve().parent.parent / ".psflow" / "tryton"


@pytest.fixture(scope="session")
def tryton_template_seconds() -> float:
    """How long making (or finding) the prepared database took, in seconds."""
    started = time.monotonic()
    prepare_template(DATA_DIR)
    return time.monotonic() - started


@pytest.fixture(scope="session")
def tryton(tryton_template_seconds: float) -> Iterator[TrytonServer]:
    """A running trytond on a fresh copy of the prepared database."""
    with running_tryton(DATA_DIR) as server:
        yield server
