"""Run the sandbox in the foreground: ``python -m airflow_provider_oktopost.testing --port 8099``.

Meant for local DAG development and for end-to-end tests that start a real Airflow next to it: it
prints ready-to-paste connection settings, and the line ``Oktopost sandbox listening on <base url>``
(flushed) once it accepts connections, which is what scripts wait for. SIGINT and SIGTERM stop it
cleanly with exit status 0.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from airflow_provider_oktopost.testing.server import CONNECTION_ENV_VAR, OktopostSandbox
from airflow_provider_oktopost.testing.state import DEFAULT_ACCOUNT_ID, DEFAULT_API_KEY

_SEED_TYPES = ("cd", "ga", "pardot", "netresults", "mautic", "facebook")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_oktopost.testing",
        description="In-memory Oktopost Integrations API for tests and local DAG runs.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8099, help="port (0 picks a free one; default 8099)")
    parser.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID, help="Basic-auth username")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="Basic-auth password")
    parser.add_argument(
        "--validation-delay", type=float, default=0.0, help="seconds before a new integration is valid"
    )
    parser.add_argument(
        "--rate-limit", type=int, default=60, help="calls per minute per key; 0 disables (default 60)"
    )
    parser.add_argument("--block-seconds", type=float, default=900.0, help="block after a 429 (default 900)")
    parser.add_argument(
        "--rate-window", type=float, default=60.0, help="seconds the rate limit counts over (default 60)"
    )
    parser.add_argument("--seed-integrations", type=int, default=0, help="create N integrations at start")
    parser.add_argument(
        "--log-level",
        default="warning",
        help="log level on stderr; 'info' shows each request (default warning)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, serve until SIGINT/SIGTERM, return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sandbox = OktopostSandbox(
        host=args.host,
        port=args.port,
        account_id=args.account_id,
        api_key=args.api_key,
        validation_delay=args.validation_delay,
        rate_limit_per_minute=args.rate_limit or None,
        block_seconds=args.block_seconds,
        rate_window_seconds=args.rate_window,
        log_level=args.log_level,
    )
    for index in range(args.seed_integrations):
        sandbox.add_integration(type=_SEED_TYPES[index % len(_SEED_TYPES)], settings={"seed": index})

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    sandbox.start()
    try:
        print(f"Account ID: {sandbox.account_id}")
        print(f"API key:    {sandbox.api_key}")
        print(f"Control:    {sandbox.url}/_sandbox   (API docs: {sandbox.url}/docs)")
        print("Airflow connection (paste into the shell that runs Airflow):")
        print(f"export {CONNECTION_ENV_VAR}={shlex.quote(sandbox.connection_json())}")
        print(f"Oktopost sandbox listening on {sandbox.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
    print("Oktopost sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
