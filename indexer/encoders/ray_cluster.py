"""Connecting to Ray, or starting one for a run: the one place semsearch calls `ray.init`.

`address` is what `--ray` takes: `local` starts a Ray on this machine for the run, bound
to 127.0.0.1; `auto` joins the cluster `ray start` runs on this machine; `host:port` a
cluster's GCS; `ray://host:10001` its Ray Client server. Ray is an optional dependency
(`pip install 'semsearch[scale]'`), imported only here and in `ray_encoder`.
"""

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from semsearch.indexer.errors import IndexerError

LOCAL = "local"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# How long to wait for a cluster's port to answer before calling it unreachable: Ray
# itself retries a missing GCS for minutes.
CONNECT_TIMEOUT_S = 5.0
# Ray reads this once, when it is imported: "0" makes the node IP 127.0.0.1 and every
# listener of a Ray it starts bind 127.0.0.1 (otherwise it takes the machine's routable
# address and listens on all interfaces).
LOOPBACK_VARIABLE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class RayClusterError(IndexerError):
    """Ray is not installed, cannot be reached, or cannot be started on 127.0.0.1."""


def import_ray(loopback: bool = False) -> ModuleType:
    """The `ray` module; with `loopback`, imported so that a Ray it starts stays on
    127.0.0.1.

    Raises:
        RayClusterError: Ray is not installed, or was imported earlier in this process
            without `LOOPBACK_VARIABLE` and so would start a Ray on every interface.
    """
    if loopback:
        os.environ.setdefault(LOOPBACK_VARIABLE, "0")
    try:
        import ray
        from ray._private import ray_constants
    except ImportError as error:
        raise RayClusterError(
            "--ray needs Ray, which is not installed: pip install 'semsearch[scale]'"
        ) from error
    if loopback and ray_constants.ENABLE_RAY_CLUSTER:
        raise RayClusterError(
            f"Ray was imported before {LOOPBACK_VARIABLE}=0 was set, so a local Ray would "
            "listen on every interface; set it in the environment and run again.")
    return ray


def connect(address: str, num_cpus: int | None = None) -> bool:
    """Connect this process to the Ray at `address` unless it is connected already.

    Args:
        address: `local`, `auto`, `host:port` or `ray://host:port`.
        num_cpus: for `local`, the CPUs the new Ray may use (None: all).

    Returns:
        True when this call connected (and, for `local`, started a Ray); False when the
        process was connected already.

    Raises:
        RayClusterError: Ray is missing or the address cannot be reached.
    """
    host_port = _host_port(address)
    # Ray replaces a loopback address by the machine's own unless it is kept on loopback
    ray = import_ray(loopback=address == LOCAL or (
        host_port is not None and host_port[0] in LOOPBACK_HOSTS))
    if host_port is not None:
        _check_reachable(address, *host_port)
    if ray.is_initialized():
        return False
    try:
        if address == LOCAL:
            ray.init(num_cpus=num_cpus, include_dashboard=False,
                     _node_ip_address="127.0.0.1", log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise RayClusterError(
            f"Cannot reach Ray at {address!r}: {error}. Start a cluster (`ray start --head` "
            "or KubeRay), pass its address, or use --ray local.") from error
    return True


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a `host:port` or `ray://host:port` address; None for local/auto.

    Raises:
        RayClusterError: the address has neither form.
    """
    if address in (LOCAL, "auto"):
        return None
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not (colon and host and port.isdigit()):
        raise RayClusterError(
            f"Not a Ray address: {address!r}; use local, auto, host:port or "
            "ray://host:10001.")
    return host.strip("[]"), int(port)


def _check_reachable(address: str, host: str, port: int) -> None:
    """Raise `RayClusterError` unless something accepts connections at host:port."""
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise RayClusterError(
            f"Cannot reach Ray at {address!r}: {error}. Start a cluster (`ray start --head` "
            "or KubeRay), pass its address, or use --ray local.") from error


@contextmanager
def ray_session(address: str | None, num_cpus: int | None = None) -> Iterator[None]:
    """Connected to Ray at `address` for the block (nothing when it is None); a
    connection (and a local Ray) this block made is shut down after it."""
    started = address is not None and connect(address, num_cpus)
    try:
        yield
    finally:
        if started:
            import_ray().shutdown()


def cluster_device(address: str) -> str:
    """"cuda" when the cluster at `address` has GPUs, else "cpu" (connecting first)."""
    connect(address)
    return "cuda" if import_ray().cluster_resources().get("GPU", 0) > 0 else "cpu"
