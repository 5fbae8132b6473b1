"""Run the simulator: ``python -m townhall.simulator [--port 8001] [--webhook-url URL] ...``.

One granian WSGI worker (the state lives in that process's memory) with ``--threads``
blocking threads. Every ``SimulatorConfig`` field is also a flag (``--pair-limit-burst 3``)
and an environment variable (``SIMULATOR_PAIR_LIMIT_BURST=3``); flags win.
"""

import argparse
import os
import sys

from townhall.simulator.engine import SimulatorConfig

SETTINGS_MODULE = "townhall.simulator.settings"
DEFAULT_ALLOWED_HOSTS = "localhost,127.0.0.1,[::1]"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m townhall.simulator",
        description="WhatsApp Cloud API simulator (Meta in a box) for demos, tests, benchmarks.",
    )
    parser.add_argument("--host", default=os.environ.get("SIMULATOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIMULATOR_PORT", "8001")))
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("SIMULATOR_THREADS", "8")),
        help="blocking threads serving requests (default 8; env SIMULATOR_THREADS)",
    )
    settings = parser.add_argument_group("simulator settings (env SIMULATOR_<NAME>)")
    defaults = SimulatorConfig()
    for name, field_type in SimulatorConfig.field_types().items():
        flag = "--" + name.replace("_", "-")
        default_shown = "***" if name in ("access_token", "app_secret") else getattr(defaults, name)
        help_text = f"default: {default_shown}; env {SimulatorConfig.env_name(name)}"
        if field_type is bool:
            settings.add_argument(
                flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        else:
            settings.add_argument(
                flag, dest=name, default=None, metavar=name.upper(), help=help_text
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {
        name: getattr(args, name)
        for name in SimulatorConfig.field_types()
        if getattr(args, name) is not None
    }
    try:
        # Validated here so a typo fails before the server starts.
        config = SimulatorConfig.from_env().updated(overrides)
    except ValueError as error:
        parser.error(str(error))
    if not 1 <= args.threads <= 256:
        parser.error("--threads must be 1 to 256")

    # The granian worker process creates the simulator from the environment it inherits.
    for name, value in overrides.items():
        os.environ[SimulatorConfig.env_name(name)] = str(value)
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    if "SIMULATOR_ALLOWED_HOSTS" not in os.environ and args.host not in ("0.0.0.0", "::"):  # noqa: S104
        os.environ["SIMULATOR_ALLOWED_HOSTS"] = f"{DEFAULT_ALLOWED_HOSTS},{args.host}"

    from granian.constants import Interfaces
    from granian.server import Server

    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"Simulator on http://{shown_host}:{args.port} → webhooks to {config.webhook_url}",
        flush=True,
    )
    server = Server(
        "townhall.simulator.wsgi:application",
        address=args.host,
        port=args.port,
        interface=Interfaces.WSGI,
        # Exactly one worker: citizens, threads and media live in its memory.
        workers=1,
        blocking_threads=args.threads,
        # URLs of phone pages contain phone numbers, so no access log.
        log_access=False,
        workers_kill_timeout=5,
    )
    # Granian handles SIGINT/SIGTERM: it stops the worker and returns.
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
