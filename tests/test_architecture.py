"""The layering of ARCHITECTURE.md holds: no module imports a module of a higher layer."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mlgo_env", "rewards", "agents")
SCRIPTS_LAYER = 9


def read_layers(text: str) -> dict[str, int]:
    """Module patterns (``pkg.mod`` or ``pkg*``) to their layer, from the table of ARCHITECTURE.md."""
    layers: dict[str, int] = {}
    for match in re.finditer(r"^\| (\d+) \| [^|]+ \| ([^|]+) \|", text, flags=re.M):
        for pattern in re.findall(r"`([\w.*]+)`", match.group(2)):
            layers[pattern] = int(match.group(1))
    return layers


def layer_of(module: str, layers: dict[str, int]) -> int | None:
    """The layer of `module`: the longest pattern that matches it, or None."""
    best: tuple[int, int] | None = None
    for pattern, layer in layers.items():
        name = pattern.rstrip("*")
        if module == name or (pattern.endswith("*") and module.startswith(name)):
            if best is None or len(name) > best[0]:
                best = (len(name), layer)
    return best[1] if best else None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    """Every Python module of the project's packages, generated protobuf code excluded."""
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if not path.name.endswith(("_pb2.py", "_pb2_grpc.py", "_pb2.pyi"))
    }


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports, at module level or inside functions.

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
    return {name for name in found if name.split(".")[0] in PACKAGES}


LAYERS = read_layers((ROOT / "ARCHITECTURE.md").read_text())
MODULES = project_modules()


def test_the_table_is_read() -> None:
    assert LAYERS["mlgo_env.errors"] == 0
    assert LAYERS["rewards*"] == 4
    assert layer_of("mlgo_env.blocks.cli", LAYERS) == 7
    assert layer_of("mlgo_env.blocks.train", LAYERS) == 3


def test_every_module_has_a_layer() -> None:
    missing = sorted(name for name in MODULES if layer_of(name, LAYERS) is None)
    assert not missing, f"give these modules a layer in ARCHITECTURE.md: {missing}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_respect_the_layers(module: str) -> None:
    own = layer_of(module, LAYERS)
    if own is None:
        pytest.skip("no layer (reported by test_every_module_has_a_layer)")
    upward = []
    for imported in sorted(imports_of(MODULES[module], set(MODULES))):
        layer = layer_of(imported, LAYERS)
        if layer is None or layer > own or (own == layer == SCRIPTS_LAYER and imported != module):
            upward.append(f"{imported} (layer {layer})")
    assert not upward, f"{module} (layer {own}) imports {upward}"


def test_the_checker_catches_an_upward_import(tmp_path: Path) -> None:
    """An analysis that imports a reward is reported (the rule the table exists for)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from rewards.size import text_size\nfrom mlgo_env import x86\n")
    imported = imports_of(bad, set(MODULES))
    assert imported == {"rewards.size", "mlgo_env.x86"}
    assert layer_of("rewards.size", LAYERS) > layer_of("mlgo_env.x86", LAYERS)  # type: ignore[operator]
