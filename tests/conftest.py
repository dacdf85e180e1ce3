"""Session fixtures: a real Temporal dev server and the sandbox systems over real HTTP."""

import gc
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from config import Settings, load_settings
from tests.postgres import PostgresServer
from tests.support import (
    OWN_NAMESPACES,
    TEMPORAL,
    TEST_SERVER,
    Sandbox,
    Systems,
    encrypting_converter,
    running_worker,
    write_settings,
)
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES
from workflows.search_attributes import register


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Prepare Tryton's database (35-45 s, once per module change) beside the first tests when
    a selected test needs it; the Tryton fixtures wait for it on the template's lock."""
    if any("tryton_template_seconds" in getattr(i, "fixturenames", ()) for i in items):
        from stack.tryton import prepare_template
        from tests.tryton_support import DATA_DIR

        threading.Thread(target=prepare_template, args=(DATA_DIR,), daemon=True).start()


@pytest.fixture(scope="session")
def estate_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("estate")


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL,
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=encrypting_converter(),  # the codec on in every end-to-end test
        dev_server_extra_args=[arg for ns in OWN_NAMESPACES for arg in ("--namespace", ns)],
    )
    async with env:
        for namespace in OWN_NAMESPACES:
            await register(env.client, namespace)
        yield env


@pytest.fixture
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server, for deadlines and weeks of waiting; one per
    test, stopped before the next starts."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=TEST_SERVER, data_converter=encrypting_converter()
    )
    async with env:
        await register(env.client, "default")
        yield env


@pytest.fixture(scope="session")
def config_file(estate_dir: Path, temporal_env: WorkflowEnvironment) -> Path:
    target = temporal_env.client.service_client.config.target_host
    return write_settings(estate_dir, temporal_address=target)


@pytest.fixture(scope="session")
def sandbox(config_file: Path) -> Iterator[Sandbox]:
    box = Sandbox(config_file)
    box.start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture(autouse=True)
def _clear_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").clear_faults()


@pytest.fixture(scope="session")
def settings(config_file: Path, sandbox: Sandbox) -> Settings:
    return load_settings(config_file)


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
async def worker(client: Client, settings: Settings) -> AsyncIterator[Settings]:
    """A psflow worker on a task queue of this test's own; yields the settings it uses."""
    async with running_worker(client, settings, f"psflow-test-{uuid.uuid4()}") as used:
        yield used


@pytest.fixture
async def systems(settings: Settings) -> AsyncIterator[Systems]:
    outside = Systems(settings)
    try:
        yield outside
    finally:
        await outside.aclose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """PostgreSQL from Debian's packages, started on first use. A server that cannot start
    fails the tests that need it, loudly: they are never skipped."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def pytest_unconfigure() -> None:
    """Free Temporal's Rust-backed clients while the interpreter is whole, not during its
    shutdown, where dropping them can crash the process after every test has passed."""
    gc.collect()
