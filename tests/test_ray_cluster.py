"""A two-node Ray cluster on this machine (ray.cluster_utils.Cluster, one CPU a node,
127.0.0.1, its own RAY_TMPDIR): the Ray encoder puts an actor on each node, both nodes
encode, and the rows equal the local encoder's; a sync through the Ray Data pipeline
there writes the index a local sync writes."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from semsearch.indexer.encoders import EncoderSpec
from semsearch.indexer.sync import sync_folder
from tests.helpers import SEARCH_DOCS, search_write_docs
from tests.test_ray import LOOPBACK, TEXTS, _listening

pytestmark = pytest.mark.scale
ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[Any]:
    """A running two-node `Cluster`, connected to as `--ray ADDRESS` does."""
    from ray.cluster_utils import Cluster

    from semsearch.indexer.encoders.ray_cluster import ray_session

    temp = tempfile.mkdtemp(prefix="ssrayc-", dir="/tmp")  # short: Ray's socket paths
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_TMPDIR", temp)
        cluster = Cluster()
        try:
            cluster.add_node(num_cpus=1, include_dashboard=False)  # the head
            cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            with ray_session(cluster.address):
                yield cluster
        finally:
            cluster.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


def test_both_nodes_encode_and_rows_equal_the_local_encoders(two_nodes: Any) -> None:
    nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
    assert len(nodes) == 2
    on_ray = EncoderSpec(backend="onnx", device="cpu", ray=two_nodes.address).load()
    vectors = on_ray.encode(TEXTS, batch_size=8)
    assert set(on_ray.rows_by_node) == nodes
    assert sum(on_ray.rows_by_node.values()) == len(TEXTS)
    assert min(on_ray.rows_by_node.values()) > 0
    local = EncoderSpec(backend="onnx", device="cpu").load().encode(TEXTS)
    assert (vectors * local).sum(axis=1).min() >= 0.9999


def test_the_cluster_listens_on_loopback_only(two_nodes: Any) -> None:
    node_pids = [process.process.pid
                 for node in (two_nodes.head_node, *two_nodes.worker_nodes)
                 for processes in node.all_processes.values() for process in processes]
    sockets = _listening(node_pids)
    assert len({pid for pid, name, _, _ in sockets if name == "raylet"}) == 2, sockets
    assert {address for _, _, address, _ in sockets} <= LOOPBACK, sockets
    assert two_nodes.address.startswith("127.0.0.1:")


def test_a_sync_through_the_pipeline_on_two_nodes_equals_a_local_sync(
        two_nodes: Any, tmp_path: Path) -> None:
    from tests.test_ray_pipeline import OPTIONS, _same_index

    folder = tmp_path / "docs"
    search_write_docs(folder, SEARCH_DOCS)
    reports = {name: sync_folder(folder, tmp_path / name,
                                 EncoderSpec(backend="onnx", device="cpu", ray=address),
                                 OPTIONS)
               for name, address in (("ray", two_nodes.address), ("local", None))}
    assert reports["ray"].chunks_encoded == reports["local"].chunks_encoded > 0
    assert reports["ray"].added == reports["local"].added == len(SEARCH_DOCS)
    _same_index(tmp_path / "ray", tmp_path / "local")
