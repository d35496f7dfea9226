"""Open-loop HTTP load (vegeta) and gRPC load (ghz), each run summarised the same way."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from service.procs import BenchError, run_foreground


@dataclass(frozen=True)
class Sample:
    latency_ms: float
    ok: bool
    code: str
    error: str


def percentiles(ms: list[float]) -> dict[str, float | None]:
    if not ms:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    a = np.asarray(ms)
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p90_ms": round(float(np.percentile(a, 90)), 2),
            "p99_ms": round(float(np.percentile(a, 99)), 2), "max_ms": round(float(a.max()), 2)}


def summarise(samples: list[Sample], wall_s: float, offered_rps: float | None) -> dict[str, Any]:
    """Throughput and goodput count only successful answers (a 429 is a refusal, not work done);
    `latency` covers every request (a timeout counts at the timeout), `latency_ok` the successes."""
    ok = [s for s in samples if s.ok]
    codes = Counter(s.code for s in samples)
    errors = Counter(s.error for s in samples if s.error)
    out: dict[str, Any] = {
        "offered_rps": offered_rps, "requests": len(samples), "ok": len(ok),
        "success_ratio": round(len(ok) / len(samples), 4) if samples else 0.0,
        "throughput_rps": round(len(ok) / wall_s, 1) if wall_s > 0 else 0.0,
        "wall_s": round(wall_s, 2), "codes": dict(sorted(codes.items())),
        "latency": percentiles([s.latency_ms for s in samples]),
        "latency_ok": percentiles([s.latency_ms for s in ok]),
    }
    if errors:
        out["errors"] = [f"{n} x {e[:160]}" for e, n in errors.most_common(3)]
    return out


def keeps_up(step: dict[str, Any], *, min_success: float = 0.99, min_throughput: float = 0.95,
             max_p99_ms: float = 1000.0) -> bool:
    """The definition the capacity search uses (also written into the results)."""
    offered = step["offered_rps"] or 0.0
    p99 = step["latency"]["p99_ms"]
    return (step["success_ratio"] >= min_success and step["throughput_rps"] >= min_throughput * offered
            and p99 is not None and p99 < max_p99_ms)


# -- vegeta --------------------------------------------------------------------------------------


def write_targets(path: Path, url: str, bodies: Iterable[dict[str, Any]], headers: dict[str, str] | None = None) -> int:
    header = {"Content-Type": ["application/json"], **{k: [v] for k, v in (headers or {}).items()}}
    n = 0
    with path.open("w") as out:
        for body in bodies:
            raw = json.dumps(body, separators=(",", ":")).encode()
            out.write(json.dumps({"method": "POST", "url": url, "header": header,
                                  "body": base64.b64encode(raw).decode()}) + "\n")
            n += 1
    return n


def vegeta_attack(vegeta: Path, targets: Path, rate: float, duration_s: float, timeout_s: float, out: Path,
                  *, inspect_body: bool = False) -> dict[str, Any]:
    argv = [str(vegeta), "attack", "-format=json", f"-targets={targets}", f"-rate={rate:g}/1s",
            f"-duration={duration_s:g}s", f"-timeout={timeout_s:g}s", f"-output={out}",
            f"-max-body={-1 if inspect_body else 0}"]
    code, _, err = run_foreground(argv, timeout_s=duration_s + timeout_s + 60)
    if code != 0:
        raise BenchError(f"vegeta attack failed ({code}): {err.decode(errors='replace')[-500:]}")
    code, encoded, err = run_foreground([str(vegeta), "encode", "--to=json", str(out)], timeout_s=120)
    if code != 0:
        raise BenchError(f"vegeta encode failed ({code}): {err.decode(errors='replace')[-500:]}")
    samples: list[Sample] = []
    first, last = None, 0.0
    cached = 0
    for line in encoded.splitlines():
        r = json.loads(line)
        start = _rfc3339_s(r["timestamp"])
        latency_s = r["latency"] / 1e9
        first = start if first is None else min(first, start)
        last = max(last, start + latency_s)
        code_s = str(r["code"])
        samples.append(Sample(latency_s * 1000, r["code"] == 200, code_s, r.get("error", "")))
        if inspect_body and r.get("body") and b'"cached":true' in base64.b64decode(r["body"]):
            cached += 1
    out.unlink(missing_ok=True)
    summary = summarise(samples, (last - (first or 0.0)) if samples else 0.0, rate)
    if inspect_body:
        summary["cache_hits"] = cached
    return summary


def _rfc3339_s(ts: str) -> float:
    """Seconds since the epoch of vegeta's nanosecond RFC 3339 timestamps (datetime keeps only
    microseconds, plenty here)."""
    from datetime import datetime

    head, _, frac = ts.rstrip("Z").partition(".")
    zone = ""
    for sign in ("+", "-"):
        if sign in frac:
            frac, _, zone = frac.partition(sign)
            zone = sign + zone
    stamp = datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}{zone or '+00:00'}")
    return stamp.timestamp()


# -- ghz -----------------------------------------------------------------------------------------


def ghz_run(ghz: Path, proto: Path, call: str, target: str, data_file: Path, out: Path, *, rps: int | None,
            duration_s: float, concurrency: int, timeout_s: float = 10.0) -> dict[str, Any]:
    argv = [str(ghz), "--insecure", f"--proto={proto}", f"--call={call}", f"--data-file={data_file}",
            f"--duration={duration_s:g}s", "--duration-stop=wait", f"--concurrency={concurrency}",
            f"--timeout={timeout_s:g}s", "--format=json", f"--output={out}"]
    if rps:
        argv.append(f"--rps={rps}")
    argv.append(target)
    code, _, err = run_foreground(argv, timeout_s=duration_s + timeout_s + 60)
    if code not in (0, 1) or not out.exists():  # ghz exits 1 when some calls failed; the report says which
        raise BenchError(f"ghz failed ({code}): {err.decode(errors='replace')[-500:]}")
    report = json.loads(out.read_text())
    out.unlink(missing_ok=True)
    samples = [Sample(d["latency"] / 1e6, d["status"] == "OK", d["status"], d.get("error", ""))
               for d in report.get("details") or []]
    summary = summarise(samples, report["total"] / 1e9, rps)
    summary["concurrency"] = concurrency
    return summary
