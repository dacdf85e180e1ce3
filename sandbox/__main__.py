"""`python -m sandbox [--config FILE]`: serve the sandbox systems until interrupted."""

import argparse
import asyncio
import contextlib
from pathlib import Path

from config import load_settings
from sandbox.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--config", type=Path, default=None, help="psflow TOML config file")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(load_settings(args.config)))


if __name__ == "__main__":
    main()
