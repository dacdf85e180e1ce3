"""What the root options decide, settings loaded on first use, and running async commands."""

import asyncio
import gc
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import typer
from sqlalchemy import Engine

from cli.output import CliError, fail
from config import ConfigError, Settings, load_settings
from store.db import StoreError, open_engine

T = TypeVar("T")


@dataclass
class State:
    """The root options; settings are read when a command first needs them."""

    config_file: Path | None = None
    address: str | None = None
    namespace: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            try:
                settings = load_settings(self.config_file)
            except ConfigError as exc:
                fail(str(exc))
            overrides = {
                key: value
                for key, value in (("address", self.address), ("namespace", self.namespace))
                if value
            }
            if overrides:
                temporal = settings.temporal.model_copy(update=overrides)
                settings = settings.model_copy(update={"temporal": temporal})
            self._settings = settings
        return self._settings


def settings_of(ctx: typer.Context) -> Settings:
    """The settings for this invocation (root options, file, environment)."""
    state = ctx.find_root().obj
    if not isinstance(state, State):
        state = State()
        ctx.find_root().obj = state
    return state.settings()


def store_of(settings: Settings) -> Engine:
    """psflow's own store (audit log, exceptions, dead letters, findings)."""
    try:
        return open_engine(settings.resolved_store_url)
    except StoreError as exc:
        fail(str(exc))


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run an async command body; a CliError or StoreError (a server or worker opening the
    store) becomes one line on stderr and exit 1."""
    try:
        return asyncio.run(coro)
    except (CliError, StoreError) as exc:
        fail(str(exc))
    finally:
        # Temporal clients sit in reference cycles; freed during interpreter shutdown, their
        # Rust core can crash the process. Collect them while the interpreter is whole.
        gc.collect()
