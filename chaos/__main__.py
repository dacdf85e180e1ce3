"""`python -m chaos [--small] [--erp tryton] [--sagas N] ... [--json FILE]`: a chaos run, then
its table (stdout), the findings under it, and JSON if asked."""

import argparse
import asyncio
import gc
import json
import signal
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.run import parse_overrides
from chaos.plan import FULL, SMALL, Plan
from chaos.report import Figures, as_json, markdown, print_report
from chaos.run import run_chaos

OPTIONS = {
    "sagas": "opportunity-to-project sagas",
    "worker_kills": "worker SIGKILLs",
    "server_kills": "dev server SIGKILLs",
    "outage_seconds": "length of the outage (every route answers 503; Tryton is stopped)",
    "outage_system": "the system that goes down: erp, crm or psa",
    "storms": "429 storms (every route of a system answers 429 with Retry-After)",
    "storm_seconds": "length of each storm",
    "lost_answers": "writes done whose answer is lost (answered 503 after the write)",
    "cancel_share": "share of the sagas cancelled at a random step",
    "window_seconds": "how long the chaos lasts (at least the outage's end)",
    "settle_seconds": "how long runs may take to finish after the chaos before they count as stuck",
    "projects": "month-end projects",
    "entries": "month-end time entries",
    "seed": "the seed every random choice is drawn from",
    "erp": "the worker's ERP: netsuite (the sandbox's) or tryton (a trytond of the run's own)",
}


async def _until_done_or_terminated(
    plan: Plan, overrides: dict[str, dict[str, Any]], keep: bool
) -> Figures:
    """SIGTERM cancels the run like Ctrl-C, so the stack still stops its processes."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run_chaos(plan, overrides, keep)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument(
        "--small",
        action="store_true",
        help="the test's numbers (12 sagas, 1 + 1 kills, 20 s outage)",
    )
    defaults = {f.name: f for f in fields(Plan)}
    for name, text in OPTIONS.items():
        kind = defaults[name].type
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            default=None,
            type=kind if kind in (int, float) else str,
            help=f"{text} (full run: {getattr(FULL, name)})",
        )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a config value for this run, e.g. retry.erp=10m (repeatable)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    parser.add_argument(
        "--keep", action="store_true", help="keep the run's folder (config, logs, databases)"
    )
    args = parser.parse_args()
    try:
        overrides = parse_overrides(args.set)
        chosen = {n: getattr(args, n) for n in OPTIONS if getattr(args, n) is not None}
        plan = replace(SMALL if args.small else FULL, **chosen)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        figures = asyncio.run(_until_done_or_terminated(plan, overrides, args.keep))
    finally:
        gc.collect()  # free Temporal's Rust-backed objects before interpreter shutdown
    if args.markdown:
        print(markdown(figures))
    else:
        console = Console()
        print_report(figures, console if console.is_terminal else Console(width=160))
    if args.json:
        args.json.write_text(json.dumps(as_json(figures), indent=2) + "\n")


if __name__ == "__main__":
    main()
