"""Child processes of the service bench: started in their own session, all stopped on exit
(normal, exception, Ctrl-C or SIGTERM), and their CPU time read from /proc (whole process tree)."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import httpx

CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A one-line reason the bench cannot go on (a missing tool, a server that did not start)."""


class Child:
    """A long-running server process in its own session, logging to a file."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, *, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                          env=env, cwd=cwd)
        REGISTRY.append(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            tail = self.log.read_text(errors="replace")[-1500:]
            raise BenchError(f"{self.name} exited with {self.popen.returncode}; its log ({self.log}) ends:\n{tail}")

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
            except ProcessLookupError:
                pass
        if self in REGISTRY:
            REGISTRY.remove(self)


REGISTRY: list[Child] = []
# Load generators run in the foreground; kept here so a signal can stop them too.
FOREGROUND: list[subprocess.Popen[bytes]] = []


def stop_all() -> None:
    for proc in FOREGROUND:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for child in reversed(list(REGISTRY)):
        child.stop(5.0)


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install_cleanup() -> None:
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def run_foreground(argv: Sequence[str], *, timeout_s: float, stdout: int | None = subprocess.PIPE) -> tuple[int, bytes, bytes]:
    proc = subprocess.Popen(list(argv), stdout=stdout, stderr=subprocess.PIPE)
    FOREGROUND.append(proc)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise BenchError(f"{Path(argv[0]).name} did not finish within {timeout_s:.0f} s") from None
    finally:
        FOREGROUND.remove(proc)
    return proc.returncode, out or b"", err or b""


def wait_http(child: Child, url: str, timeout_s: float, ok: Callable[[httpx.Response], bool] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        child.check_alive()
        try:
            response = httpx.get(url, timeout=1.0)
            if (ok or (lambda r: r.status_code == 200))(response):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise BenchError(f"{child.name} was not ready at {url} within {timeout_s:.0f} s (log: {child.log})")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may hold spaces: split after its closing one.
    return raw[raw.rindex(")") + 2:].split()


def _children_map() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            out.setdefault(int(fields[1]), []).append(int(entry))
    return out


def tree_pids(root: int) -> list[int]:
    children = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_cpu_seconds(root: int) -> float:
    """utime + stime of every live process in the tree, plus the children each has reaped
    (cutime + cstime), in seconds."""
    ticks = 0
    for pid in tree_pids(root):
        fields = _stat_fields(pid)
        if fields is None:
            continue
        # After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
        ticks += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def wait_quiet(roots: Sequence[int], *, below_cores: float = 0.08, window_s: float = 0.5, max_s: float = 20.0) -> float:
    """Wait until the trees use less than `below_cores` of CPU over a window (a proxy still
    working through an abandoned backlog would skew the next step). Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < max_s:
        before = sum(tree_cpu_seconds(r) for r in roots)
        time.sleep(window_s)
        if (sum(tree_cpu_seconds(r) for r in roots) - before) / window_s < below_cores:
            break
    return time.monotonic() - started


class ForeignLoad:
    """CPU used over a step by user processes that are not part of the bench (a build, a test
    suite on the same machine): with them the numbers are not comparable, and this says so.
    Kernel threads (loopback networking's softirq work lands there) are not counted."""

    def __init__(self, roots: Callable[[], Sequence[int]]) -> None:
        self._roots = roots
        self._start = self._sample()
        self._t0 = time.monotonic()

    def _sample(self) -> dict[int, float]:
        ours = {os.getpid()}
        for root in self._roots():
            ours.update(tree_pids(root))
        out: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in ours:
                continue
            fields = _stat_fields(int(entry))
            # Kernel threads: kthreadd (2) and its children; the bench's own load generators are
            # children of this process, hence in `ours` only while alive: skip them by parent too.
            if fields is None or int(entry) == 2 or int(fields[1]) in (2, os.getpid()):
                continue
            out[int(entry)] = sum(int(x) for x in fields[11:15]) / CLK_TCK
        return out

    def cores(self) -> float:
        end = self._sample()
        wall = time.monotonic() - self._t0
        used = sum(cpu - self._start.get(pid, 0.0) for pid, cpu in end.items())
        return max(0.0, used / wall) if wall > 0 else 0.0


def wait_machine_quiet(roots: Callable[[], Sequence[int]], *, below_cores: float, max_s: float,
                       window_s: float = 1.0) -> tuple[float, float]:
    """Wait until processes outside the bench use less than `below_cores` over a window.
    Returns (seconds waited, the last window's foreign cores)."""
    started = time.monotonic()
    while True:
        probe = ForeignLoad(roots)
        time.sleep(window_s)
        cores = probe.cores()
        if cores < below_cores or time.monotonic() - started >= max_s:
            return time.monotonic() - started, cores
