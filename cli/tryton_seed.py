"""The month-end volume seeded with Tryton as the ERP: Tryton first (it gives the ids), then
the PSA and the CRM with Tryton's project ids, each answer as `psflow sandbox seed` shows it."""

import time
from typing import Any

from cli import sandbox_admin
from cli.sandbox_admin import Seeded, System
from config import Settings
from connectors import systems
from connectors.errors import ConnectorError
from sandbox.volume import Volume
from stack.tryton_volume import TrytonVolume, seed_tryton_volume


async def seed_with_tryton(
    settings: Settings, body: dict[str, Any]
) -> tuple[list[Seeded], TrytonVolume | None]:
    """Seed Tryton, then the PSA and CRM; the answers in PSA, ERP, CRM order, and what the
    Tryton seed left (None when it failed, and the PSA and CRM were not seeded)."""
    await sandbox_admin.require_running(settings, [System.PSA, System.CRM])
    began = time.monotonic()
    erp = systems.tryton_erp(settings)
    try:
        seeded = await seed_tryton_volume(Volume(**body), erp)
    except (ConnectorError, LookupError, ValueError) as exc:
        failed = Seeded(System.ERP, {}, time.monotonic() - began, str(exc))
        return [failed], None
    finally:
        await erp.aclose()
    counts = {
        "projects": len(seeded.project_ids),
        "employees": len(seeded.employee_ids),
        "already posted": seeded.already_posted,
        "hand imports refused": len(seeded.refused),
    }
    tryton = Seeded(System.ERP, counts, time.monotonic() - began)
    linked = body | {"erp_project_ids": seeded.project_ids}
    psa = await sandbox_admin.seed_volume(settings, System.PSA, linked)
    crm = await sandbox_admin.seed_volume(settings, System.CRM, linked)
    return [psa, tryton, crm], seeded
