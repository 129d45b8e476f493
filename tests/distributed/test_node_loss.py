"""A node lost mid-collection (slow: it starts a 4-node Ray cluster on this machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlgo_env.corpus import Corpus

from .conftest import NO_RAY

pytest.importorskip("ray", reason=NO_RAY)

# Runs in its own process: the other tests' local Ray cannot share a process with this cluster.
SCRIPT = """
import json, sys, threading, time
from pathlib import Path
import ray
from ray.cluster_utils import Cluster
sys.path.insert(0, sys.argv[3])
from tests.distributed.conftest import compilers_under
from mlgo_env.distributed.actors import WorkerPool
from mlgo_env.distributed.collect import collect

cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
nodes = [cluster.add_node(num_cpus=1) for _ in range(3)]  # two busy, one spare
ray.init(address=cluster.address)
root = Path(sys.argv[2])
lost = []

def lose_a_busy_node(pool):
    while not compilers_under(root):
        time.sleep(0.02)
    busy = ray.get(pool.workers[0].handle.identity.remote()).split("@")[1].split(":")[0]
    node = next(n for n in nodes if n.node_id.startswith(busy))
    cluster.remove_node(node, allow_graceful=False)
    lost.append(node.node_id)

with WorkerPool(2, sys.argv[1], share_corpus=False, root=root) as pool:
    pool.spaces("inlining", False, None)
    threading.Thread(target=lose_a_busy_node, args=(pool,), daemon=True).start()
    outcomes = list(collect("random", ["sha256", "nbody", "huffman"] * 2, pool, progress=False))
print("RESULT", json.dumps({"lost": lost, "outcomes": [
    {"episode": o.episode, "ok": o.ok, "faults": [f.type for f in o.faults], "worker": o.worker}
    for o in outcomes]}))
ray.shutdown()
cluster.shutdown()
"""


@pytest.mark.slow
def test_lost_node_episodes_run_again_on_the_other_nodes(mini_corpus: Corpus, tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    args = [sys.executable, "-c", SCRIPT, str(mini_corpus.root), str(tmp_path / "ray"), str(repo)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    [line] = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    report = json.loads(line.removeprefix("RESULT "))
    [lost] = report["lost"]
    outcomes = report["outcomes"]
    assert sorted(o["episode"] for o in outcomes) == list(range(6)) and all(o["ok"] for o in outcomes)
    assert any(o["faults"] == ["WorkerDied"] for o in outcomes)
    assert not any(lost.startswith(o["worker"].split("@")[1].split(":")[0]) for o in outcomes if o["faults"])
