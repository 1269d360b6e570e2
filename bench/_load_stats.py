"""`make load`'s arithmetic: locust's per-run statistics merged into one mix's figures, and the processes' memory.

locust's `--json-file` lists, per request name, the count of answers at each response time (milliseconds,
rounded as locust rounds them: exact below 100 ms, to 10 ms below 1 s, to 100 ms above), the failures and
the first and last request's time. A mix runs in several rounds (interleaved with the other mix): its
histograms are added up, so its percentiles are those of every request of the mix, and its rate is its
requests over the seconds its rounds ran.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

import psutil

PERCENTILES = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}
MB = 1024 * 1024
SHELLS = {"sh", "bash", "dash"}


def percentile(histogram: Counter, fraction: float) -> float:
    """The smallest response time at or below which `fraction` of the answers came (0 without answers)."""
    total = sum(histogram.values())
    if not total:
        return 0.0
    wanted, seen = fraction * total, 0
    for milliseconds in sorted(histogram):
        seen += histogram[milliseconds]
        if seen >= wanted:
            return float(milliseconds)
    return float(max(histogram))


@dataclass
class Kind:
    """One kind of request (a locust name) over every round of a mix."""

    histogram: Counter = field(default_factory=Counter)
    requests: int = 0
    failures: int = 0

    def add(self, entry: dict) -> None:
        self.histogram.update({int(float(ms)): count for ms, count in entry["response_times"].items()})
        self.requests += entry["num_requests"]
        self.failures += entry["num_failures"]

    def figures(self, seconds: float) -> dict:
        return {
            "rps": round(self.requests / seconds, 2) if seconds else 0.0,
            **{name: percentile(self.histogram, fraction) for name, fraction in PERCENTILES.items()},
            "requests": self.requests,
            "errors": self.failures,
        }


@dataclass
class Mix:
    """A mix's rounds: each round's locust statistics and how long it ran."""

    kinds: dict[str, Kind] = field(default_factory=dict)
    seconds: float = 0.0
    rounds: int = 0

    def add_round(self, entries: list[dict]) -> None:
        """Add one locust run's `--json-file` entries; its duration is its first request to its last answer."""
        started = [e["start_time"] for e in entries if e["num_requests"]]
        ended = [e["last_request_timestamp"] for e in entries if e["last_request_timestamp"]]
        if started and ended:
            self.seconds += max(ended) - min(started)
        for entry in entries:
            self.kinds.setdefault(entry["name"], Kind()).add(entry)
        self.rounds += 1

    def figures(self) -> dict:
        """rps, p50/p95/p99 and errors of the whole mix, and the same for each kind of request."""
        everything = Kind()
        for kind in self.kinds.values():
            everything.histogram.update(kind.histogram)
            everything.requests += kind.requests
            everything.failures += kind.failures
        whole = everything.figures(self.seconds)
        return {
            **{key: whole[key] for key in ("rps", *PERCENTILES, "errors", "requests")},
            "seconds": round(self.seconds, 1),
            "by_kind": {name: self.kinds[name].figures(self.seconds) for name in sorted(self.kinds)},
        }


def ratios(governed: dict, baseline: dict) -> dict:
    """The governed mix against the baseline: throughput and p99, of the whole mix and of the record pages."""

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 3) if b else None

    record, bare = governed["by_kind"].get("record", {}), baseline["by_kind"].get("record", {})
    found = {
        "rps_ratio": ratio(governed["rps"], baseline["rps"]),
        "p99_ratio": ratio(governed["p99_ms"], baseline["p99_ms"]),
        "record_rps_ratio": ratio(record.get("rps", 0), bare.get("rps", 0)),
        "record_p99_ratio": ratio(record.get("p99_ms", 0), bare.get("p99_ms", 0)),
    }
    met = found["rps_ratio"] is not None and found["p99_ratio"] is not None
    found["goal"] = "governed ≥ 0.85x the baseline's requests/s and p99 ≤ 1.5x its p99, same concurrency"
    found["goal_met"] = met and found["rps_ratio"] >= 0.85 and found["p99_ratio"] <= 1.5
    return found


# --- Memory ---------------------------------------------------------------------------------------------


def role_of(process: psutil.Process) -> str | None:
    """ "web" for a gunicorn worker (not its master, which serves nothing), "worker" for a Celery worker's
    processes (its main one and its pool), "beat", or None (honcho's shells and anything else)."""
    try:
        command = _command(process)
        if "gunicorn" in command:
            return "web" if "gunicorn" in _command(process.parent()) else None
        if "celery" in command:
            return "beat" if " beat" in command else "worker" if " worker" in command else None
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return None


def _command(process: psutil.Process | None) -> str:
    """The command line of a Python process ("" for a shell: honcho starts each command through one)."""
    if process is None or process.name() in SHELLS:
        return ""
    return " ".join(process.cmdline())


def high_water_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), MB; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemorySampler:
    """Samples the resident memory of every web, worker and beat process under `root_pid` while running.

    `phase` names where samples go (each mix's rounds keep their own peaks); `peaks()` gives each role's
    processes' peaks, `high_water()` each process's VmHWM (its peak since it started), read when asked.
    """

    def __init__(self, root_pid: int, interval: float = 0.25) -> None:
        self.root, self.interval = psutil.Process(root_pid), interval
        self.phase: str | None = None
        self.samples: dict[str, dict[tuple[str, int], float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def processes(self) -> list[tuple[str, psutil.Process]]:
        try:
            found = self.root.children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [(role, process) for process in found if (role := role_of(process))]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            phase = self.phase
            if phase is None:
                continue
            peaks = self.samples.setdefault(phase, {})
            for role, process in self.processes():
                try:
                    rss = process.memory_info().rss / MB
                except psutil.NoSuchProcess:
                    continue
                key = (role, process.pid)
                peaks[key] = max(peaks.get(key, 0.0), rss)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def peaks(self, *phases: str) -> dict:
        """{"web_max", "worker_max", "beat_max", "web": [MB per process], "worker": […]} over `phases`."""
        merged: dict[tuple[str, int], float] = {}
        for phase in phases:
            for key, rss in self.samples.get(phase, {}).items():
                merged[key] = max(merged.get(key, 0.0), rss)
        return by_role(merged)

    def high_water(self) -> dict:
        """The same shape from each process's VmHWM: its peak over the whole run, between samples too."""
        return by_role({(role, process.pid): high_water_mb(process.pid) for role, process in self.processes()})


def by_role(peaks: dict[tuple[str, int], float]) -> dict:
    found: dict = {}
    for role in ("web", "worker", "beat"):
        values = sorted((round(rss, 1) for (r, _pid), rss in peaks.items() if r == role), reverse=True)
        found[f"{role}_max"] = values[0] if values else None
        found[role] = values
    return found
