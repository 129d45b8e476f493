"""Scale-out on Ray: compiler services inside Ray actors, a collection API and a Ray VecEnv.

Needs the ``distributed`` extra (``pip install 'mlgo-env[distributed]'``). Importing this package
works without it; the entry points raise an `ImportError` that says what to install.

>>> from mlgo_env.distributed import connect  # doctest: +SKIP
>>> from mlgo_env.distributed.actors import WorkerPool  # doctest: +SKIP
>>> from mlgo_env.distributed.collect import collect  # doctest: +SKIP
>>> connect()  # a local Ray, one worker per core; connect("ray://head:10001") for a cluster  # doctest: +SKIP
>>> with WorkerPool() as pool:  # doctest: +SKIP
...     for outcome in collect("llvm-default", ["sha256", "nbody"], pool, out=Path("rollouts.parquet")):
...         print(outcome.benchmark, outcome.ok)
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

__all__ = ["ClusterInfo", "connect", "require_ray"]

INSTALL_HINT = "pip install 'mlgo-env[distributed]'"


def require_ray() -> ModuleType:
    """The `ray` module.

    Raises:
        ImportError: Ray is not installed; the message says how to install it.
    """
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f"mlgo-env's distributed mode needs Ray: {INSTALL_HINT}") from exc
    return ray


@dataclass(frozen=True)
class ClusterInfo:
    """The Ray cluster this process is connected to."""

    address: str
    nodes: int
    cpus: int


def connect(address: str | None = None) -> ClusterInfo:
    """Connect this process to Ray, with the semantics of ``ray.init(address)``.

    ``None`` honours ``$RAY_ADDRESS`` and otherwise starts a local Ray on this machine with one
    CPU (hence one worker) per core; ``"auto"`` or ``"ray://host:10001"`` join an existing cluster.
    Calling it again in a connected process changes nothing, so libraries and tests can share one
    Ray session.

    Args:
        address: the cluster's address, or None.

    Returns:
        The cluster's address and size.
    """
    ray = require_ray()
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False)
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    context = ray.get_runtime_context()
    return ClusterInfo(
        address=str(getattr(context, "gcs_address", "") or address or "local"),
        nodes=len(nodes),
        cpus=int(ray.cluster_resources().get("CPU", 0)),
    )
