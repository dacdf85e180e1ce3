"""`psflow sandbox up`: the sandbox CRM, PSA and HCM, and as the ERP either the sandbox
NetSuite or a Tryton (stack/tryton_sandbox.py) on the same port."""

import asyncio
from enum import StrEnum

from rich.markup import escape
from rich.panel import Panel

from cli.output import CliError, console, fail
from cli.state import run
from cli.stopping import cancel_on_signals
from config import Settings
from stack.local import SANDBOX_SYSTEMS, check_ports, sandbox_urls, start_sandbox
from stack.tryton_sandbox import TrytonSandbox, tryton_sandbox


class ErpKind(StrEnum):
    """The ERP `psflow sandbox up --erp` serves."""

    NETSUITE = "netsuite"
    TRYTON = "tryton"


def sandbox_up(settings: Settings, erp: ErpKind) -> None:
    """Serve the sandbox systems until Ctrl-C, with the ERP `erp` names."""
    check_ports(settings, temporal=False)
    if erp is ErpKind.NETSUITE:
        run(_serve(settings, None))
        return
    console.print("starting the Tryton ERP (the first start prepares its database: about 45 s)")
    try:
        with tryton_sandbox(settings) as tryton:
            run(_serve(settings, tryton))
    except CliError as exc:
        fail(str(exc))


async def _serve(settings: Settings, tryton: TrytonSandbox | None) -> None:
    systems = SANDBOX_SYSTEMS if tryton is None else tuple(s for s in SANDBOX_SYSTEMS if s != "erp")
    with cancel_on_signals():
        try:
            task = await start_sandbox(settings, systems)
            console.print(_panel(settings, tryton))
            if tryton is None:
                await task
                return
            watch = asyncio.create_task(tryton.wait_exited())
            try:
                done, _ = await asyncio.wait([task, watch], return_when=asyncio.FIRST_COMPLETED)
                for finished in done:
                    finished.result()
            finally:
                for running in (task, watch):
                    running.cancel()
                await asyncio.gather(task, watch, return_exceptions=True)
        except asyncio.CancelledError:
            console.print("sandbox and the Tryton ERP stopped" if tryton else "sandbox stopped")


def _panel(settings: Settings, tryton: TrytonSandbox | None) -> Panel:
    urls = sandbox_urls(settings)
    shown = dict(urls)
    if tryton is not None:
        database = "a fresh database" if tryton.fresh else "its database kept from the last run"
        shown["erp"] = f"{tryton.server.url}  (Tryton; {database})"
    lines = [f"{name.upper()}  {url}" for name, url in shown.items()]
    lines.append(f"PSA API docs  {urls['psa']}/docs")
    lines.append(f"HCM API docs  {urls['hcm']}/docs")
    if tryton is not None:
        lines += ["", f"A worker uses this ERP with these settings, also in {tryton.env_file}:"]
        lines += [f"  {name}={value}" for name, value in tryton.variables().items()]
    lines.append("Ctrl-C stops them")
    return Panel(escape("\n".join(lines)), title="psflow sandbox", expand=False)
