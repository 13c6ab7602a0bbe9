"""Starting and stopping the programs a benchmark runs, so that none outlives it.

Each program runs in its own session (process group) with its output in a log file; stopping
it sends SIGTERM to the whole group, then SIGKILL once the grace period is over, so a server's
workers go with it. `stop_on_signals` makes SIGTERM and SIGHUP raise KeyboardInterrupt, as
Ctrl-C does, so the `finally` blocks that stop the programs run however the benchmark ends.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any

from bench.errors import BenchmarkError

ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT_S = 30


def free_port() -> int:
    """A local TCP port nothing listens on, for a server the benchmark starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM to the process's group, then SIGKILL once the grace period is over (at once
    on a second Ctrl-C)."""
    try:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT_S)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        pass
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def started(
    name: str, argv: list[str], env: Mapping[str, str], workdir: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `argv` from the repository's root in its own process group, logging to
    `workdir/<name>.log`; stop the whole group afterwards."""
    with (workdir / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            stop_process(process)


def wait_until_ready(
    port: int, path: str, process: subprocess.Popen[bytes], log_path: Path, timeout_s: float
) -> None:
    """Poll `GET path` on the local `port` until it answers 200; fail with the end of the
    server's log when it exits or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise BenchmarkError(f"the server on port {port} did not answer {path}:\n{tail(log_path)}")


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log, for an error message."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def stop_on_signals() -> None:
    """Make SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt in the main thread."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
