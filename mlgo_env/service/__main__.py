"""Runs a compiler service: ``python -m mlgo_env.service --address ADDR`` (used by the embedded mode)."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from mlgo_env.service.server import ServiceConfig, serve


def main() -> None:
    """Parse the arguments and serve until stopped."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", default="127.0.0.1:50051")
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--allow-remote", action="store_true")
    parser.add_argument("--token", default=os.environ.get("MLGO_SERVICE_TOKEN"))
    parser.add_argument("--insecure", action="store_true", help="no token on loopback TCP")
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--parent-pid", type=int)
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--idle-timeout", type=float, default=600.0)
    parser.add_argument("--max-sessions", type=int, default=64)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = ServiceConfig(
        corpus=args.corpus,
        token=args.token,
        insecure=args.insecure,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        idle_timeout=args.idle_timeout,
        max_sessions=args.max_sessions,
    )
    serve(args.address, config, allow_remote=args.allow_remote, parent_pid=args.parent_pid, ready_file=args.ready_file)


if __name__ == "__main__":
    main()
