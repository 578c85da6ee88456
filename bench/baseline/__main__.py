"""`python -m bench.baseline --port N --latency S`: serve the baseline with Hypercorn."""

from __future__ import annotations

import argparse
import asyncio
import signal

from hypercorn.asyncio import serve
from hypercorn.config import Config

from bench.baseline.app import create_baseline_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.2, help="fake model latency (s)")
    parser.add_argument("--threads", type=int, default=40)
    args = parser.parse_args()
    app = create_baseline_app(args.latency, args.threads)
    config = Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    config.accesslog = None
    config.graceful_timeout = 1

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    asyncio.run(go())


if __name__ == "__main__":
    main()
