"""Serve the sandbox systems on localhost, each as its own ASGI app on its own port."""

import asyncio
from collections.abc import Collection
from pathlib import Path
from typing import TypedDict

import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from config import Settings
from sandbox.crm.app import create_app as create_crm
from sandbox.erp.app import create_app as create_erp
from sandbox.hcm.app import create_app as create_hcm
from sandbox.keys import demo_certificate
from sandbox.psa.app import create_app as create_psa


class Webhook(TypedDict):
    """The webhook arguments of the sandbox apps that deliver events."""

    webhook_url: str | None
    webhook_secret: str | None


def secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value else ""


def build_apps(settings: Settings) -> dict[str, tuple[FastAPI, int]]:
    """Each system's app and port; data under <data_dir>/sandbox/<system>.db, seeded when new.
    The CRM and ERP register the certificates of the keys psflow signs with (made under
    <data_dir>/keys on first start when none is configured)."""
    folder = Path(settings.data_dir) / "sandbox"
    box = settings.sandbox

    def webhook(system: str) -> Webhook:
        """Where a system delivers its events: <event_webhook_url>/<system>, signed with the
        secret ingress holds for that system."""
        base = box.event_webhook_url
        return {
            "webhook_url": f"{base.rstrip('/')}/{system}" if base else None,
            "webhook_secret": settings.ingress.secret_for(system),
        }

    return {
        "crm": (
            create_crm(
                folder / "crm.db",
                client_id=settings.crm.client_id,
                client_secret=secret(settings.crm.client_secret),
                username=settings.crm.username,
                certificate=demo_certificate(settings.key_file("crm"), "rsa"),
                audiences=frozenset({settings.crm.audience or settings.crm.url.rstrip("/")}),
                **webhook("crm"),
            ),
            box.crm_port,
        ),
        "erp": (
            create_erp(
                folder / "erp.db",
                client_id=settings.erp.client_id,
                client_secret=secret(settings.erp.client_secret),
                certificates={
                    settings.erp.certificate_id: demo_certificate(
                        settings.key_file("erp"),
                        "ec" if settings.erp.algorithm == "ES256" else "rsa",
                    )
                },
                account=settings.erp.account,
                token_id=settings.erp.token_id,
                token_secret=secret(settings.erp.token_secret),
                concurrency_limit=box.erp_concurrency_limit,
            ),
            box.erp_port,
        ),
        "psa": (
            create_psa(
                folder / "psa.db",
                client_id=settings.psa.client_id,
                client_secret=secret(settings.psa.client_secret),
                **webhook("psa"),
            ),
            box.psa_port,
        ),
        "hcm": (
            create_hcm(
                folder / "hcm.db",
                client_id=settings.hcm.client_id,
                client_secret=secret(settings.hcm.client_secret),
                tenant=settings.hcm.tenant,
                refresh_token=secret(settings.hcm.refresh_token) or None,
                **webhook("hcm"),
            ),
            box.hcm_port,
        ),
    }


async def serve(
    settings: Settings,
    ready: asyncio.Event | None = None,
    systems: Collection[str] | None = None,
) -> None:
    """Run the named systems (default: every one) until cancelled."""
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                app, host=settings.sandbox.host, port=port, log_level="warning", lifespan="off"
            )
        )
        for system, (app, port) in build_apps(settings).items()
        if systems is None or system in systems
    ]
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    try:
        while not all(s.started for s in servers):
            if any(t.done() for t in tasks):
                for task in tasks:
                    if task.done() and task.exception():
                        raise task.exception()  # type: ignore[misc]
                raise SystemExit("a sandbox system could not start: is its port already in use?")
            await asyncio.sleep(0.05)
        if ready is not None:
            ready.set()
        await asyncio.gather(*tasks)
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
