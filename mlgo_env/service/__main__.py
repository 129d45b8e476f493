"""``python -m mlgo_env.service``: the ``mlgo-env serve`` command (the embedded mode starts it this way)."""

from __future__ import annotations

import typer

from mlgo_env.cli import serve

if __name__ == "__main__":
    typer.run(serve)
