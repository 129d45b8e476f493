"""Without Ray, everything else works and the distributed entry points say what to install."""

from __future__ import annotations

import subprocess
import sys

BLOCK_RAY = "import sys; sys.modules['ray'] = None; "


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_RAY + code], capture_output=True, text=True, timeout=120)


def test_connect_names_the_extra() -> None:
    result = _python("from mlgo_env.distributed import connect\ntry:\n connect()\nexcept ImportError as e:\n print(e)")
    assert result.returncode == 0, result.stderr
    assert "pip install 'mlgo-env[distributed]'" in result.stdout


def test_cli_group_imports_and_explains() -> None:
    code = (
        "from typer.testing import CliRunner; from mlgo_env.distributed.cli import app; "
        "r = CliRunner().invoke(app, ['info']); print(r.exit_code, r.output)"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2 ") and "mlgo-env[distributed]" in result.stdout
