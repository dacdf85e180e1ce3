"""`python -m bench [--quick] [--latency-ms N] [--set section.key=value ...]`: run the benchmark,
print the table."""

import argparse
import asyncio
import gc
import signal
from dataclasses import replace
from typing import Any

from bench.run import parse_overrides, run
from bench.scale import FULL, QUICK, Scale


async def _until_done_or_terminated(scale: Scale, overrides: dict[str, dict[str, Any]]) -> str:
    """The table; SIGTERM cancels the run like Ctrl-C, so the stack still stops its processes."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run(scale, overrides)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small numbers, for trying it (about 2.5 minutes)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a config value for this run, e.g. worker.max_concurrent_activities=200 or "
        "billing.page_size=500 (repeatable)",
    )
    parser.add_argument(
        "--latency-ms",
        type=int,
        metavar="N",
        help="add a month-end with every ERP, PSA and CRM request delayed N ms (default: "
        f"{FULL.latency_ms}, --quick {QUICK.latency_ms}); 0 leaves it out",
    )
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    if args.latency_ms is not None:
        if args.latency_ms < 0:
            parser.error("--latency-ms is 0 or more")
        scale = replace(scale, latency_ms=args.latency_ms)
    try:
        overrides = parse_overrides(args.set)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        print(asyncio.run(_until_done_or_terminated(scale, overrides)))
    finally:
        gc.collect()  # free Temporal's Rust-backed objects before interpreter shutdown


if __name__ == "__main__":
    main()
