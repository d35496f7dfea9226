"""No test asserts how long something took: on a busy machine (a build beside the suite, two
shared cores) any such bound fails whatever the code does. How fast things are is the benches'
to measure (benches/); a test waits for an event, with a timeout only as a generous upper bound.

A scan of the tests' syntax trees, module by module, for
- an `assert` on a clock reading: a call to a clock (`time.monotonic()`, `loop.time()`...), or
  a name holding one, however indirectly (assigned, appended or returned from a function);
- `wait_for` given a timeout below its default, which makes the wait an assertion on speed (a
  timeout that is not a literal, a helper's parameter passed on, is not checked);
- a hypothesis deadline (tests/python/conftest.py turns the default one off).
Names are followed per module, not per function: a name that holds a clock reading anywhere in a
module is suspect everywhere in it (rename it rather than silence the scan)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from support.probes import wait_for

TESTS = Path(__file__).resolve().parents[1]
CLOCKS = {"monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "process_time", "time", "time_ns"}
# Calls whose result is a reading when what they are given is: aggregates, and running a coroutine.
PASS_ON = {"max", "min", "sum", "abs", "round", "float", "int", "sorted", "mean", "median", "quantile", "run"}
WAIT_FOR_DEFAULT_S = inspect.signature(wait_for).parameters["timeout"].default


def _clock_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    return (isinstance(f, ast.Attribute) and f.attr in CLOCKS) or (isinstance(f, ast.Name) and f.id in CLOCKS)


def _called(node: ast.AST) -> str | None:
    """The name a call calls: `f(...)` and `x.f(...)` both call `f`."""
    if isinstance(node, ast.Call):
        f = node.func
        return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
    return None


class _Module:
    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.names: set[str] = set()  # names that hold a clock reading
        self.functions: set[str] = set()  # functions that return one

    def timed(self, node: ast.AST) -> bool:
        """Whether `node` holds a clock reading: reads a clock, or a name or function that does.
        A reading passed to another call does not make its result one (`complete(request,
        time.monotonic() + 30)` is an answer), except through the calls in `PASS_ON`."""
        if isinstance(node, ast.Call):
            called = _called(node)
            return _clock_call(node) or called in self.functions or (
                called in PASS_ON and any(self.timed(a) for a in node.args))
        if isinstance(node, ast.Name):
            return node.id in self.names
        return any(self.timed(child) for child in ast.iter_child_nodes(node))

    def follow(self) -> None:
        """Marks names and functions that hold clock readings, until nothing more is marked."""
        while True:
            before = (len(self.names), len(self.functions))
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.NamedExpr) \
                        and node.value is not None and self.timed(node.value):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    self.names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                        and node.func.attr in ("append", "extend", "add") and isinstance(node.func.value, ast.Name) \
                        and any(self.timed(a) for a in node.args):
                    self.names.add(node.func.value.id)
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                        isinstance(r, ast.Return) and r.value is not None and self.timed(r.value)
                        for r in ast.walk(node)):
                    self.functions.add(node.name)
            if (len(self.names), len(self.functions)) == before:
                return

    def findings(self) -> list[tuple[int, str]]:
        self.follow()
        found = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assert) and self.timed(node.test):
                found.append((node.lineno, "asserts on a clock reading"))
            if isinstance(node, ast.Call) and _called(node) == "wait_for":
                timeouts = [*node.args[2:3], *(k.value for k in node.keywords if k.arg == "timeout")]
                if any(isinstance(t, ast.Constant) and isinstance(t.value, int | float) and t.value < WAIT_FOR_DEFAULT_S
                       for t in timeouts):
                    found.append((node.lineno, f"wait_for with a timeout under its {WAIT_FOR_DEFAULT_S:g} s default"))
            if isinstance(node, ast.Call) and _called(node) in ("settings", "register_profile") and any(
                    k.arg == "deadline" and not (isinstance(k.value, ast.Constant) and k.value.value is None)
                    for k in node.keywords):
                found.append((node.lineno, "a hypothesis deadline"))
        return found


def timing_assertions(source: str) -> list[tuple[int, str]]:
    """(line, why) for each timing assertion in a module's source."""
    return sorted(_Module(ast.parse(source)).findings())


def test_no_test_asserts_on_elapsed_time() -> None:
    found = [f"{path.relative_to(TESTS)}:{line}: {why}"
             for path in sorted(TESTS.rglob("*.py")) for line, why in timing_assertions(path.read_text())]
    assert not found, "\n".join(found)


def test_the_scan_finds_each_kind_of_timing_assertion() -> None:
    """The shapes timing assertions took in this suite before, each found; waits that only bound
    how long a test may hang are not."""
    caught = '''
import time
from support.probes import wait_for

def direct(applied):
    assert time.monotonic() - applied <= 2.0  # 1

def deadline_loop(poll):
    deadline = time.monotonic() + 30
    while not poll():
        assert time.monotonic() < deadline  # 2

async def burst(loop):
    refused_in = []
    started = loop.time()
    refused_in.append(loop.time() - started)
    return max(refused_in)

def through_a_function(asyncio):
    slowest = asyncio.run(burst(None))
    assert slowest < 1.5  # 3

def short_waits(probe):
    wait_for(probe, "live", timeout=2.0)  # 4
    wait_for(probe, "live", 2.0)  # 5

@settings(max_examples=60, deadline=500)  # 6
def test_examples(x):
    pass
'''
    short_wait = f"wait_for with a timeout under its {WAIT_FOR_DEFAULT_S:g} s default"
    assert timing_assertions(caught) == [(6, "asserts on a clock reading"), (11, "asserts on a clock reading"),
                                         (21, "asserts on a clock reading"), (24, short_wait), (25, short_wait),
                                         (27, "a hypothesis deadline")]
    fine = '''
import time
from support.probes import wait_for

def waits(probe, pipeline, request, timeout):
    wait_for(probe, "ready")
    wait_for(probe, "the router ready", timeout=120)
    wait_for(probe, "a condition", timeout)
    done = pipeline.complete(request, time.monotonic() + 30)
    assert done.content

@settings(max_examples=60, deadline=None)
def test_examples(x):
    pass
'''
    assert timing_assertions(fine) == []
