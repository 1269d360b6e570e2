"""`make load`'s run: its database, the production profile, the load tool's rounds, and the clean-up (bench/_load.py).

Each step raises LoadError with what went wrong (and the end of the log that shows it); `close` stops every
process the run started, whatever happened before, empties its Celery queues, drops its database and
removes its files (the accounts file holds passwords).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

import psutil

from bench import ROOT
from bench._load_stats import MemorySampler, Mix, ratios

if TYPE_CHECKING:
    from bench._load import Config

LOCUSTFILE = ROOT / "bench" / "_locustfile.py"
START_SECONDS, STOP_SECONDS, SETTLE_SECONDS = 180.0, 30.0, 90.0
PROXY = {"X-Forwarded-Proto": "https"}
INHERITED_NOT = ("DJANGO_DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_LOG_LEVEL")


class LoadError(Exception):
    """The load run cannot go on; the message says why (the caller prints it and exits non-zero)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=PROXY)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class LoadRun:
    """One `make load`: its database, processes and files, all removed by `close`."""

    def __init__(self, config: Config, env: dict[str, str]) -> None:
        self.config = config
        self.tmp = Path(tempfile.mkdtemp(prefix="prahari-load-"))
        self.port = free_port()
        self.prefix = f"prahari-load-{uuid.uuid4().hex[:8]}"
        url = urlsplit(env["DATABASE_URL"])
        self.server_url, base = url, unquote(url.path.lstrip("/")) or "prahari"
        self.database = f"{base}_load"
        # The production profile's own settings, whatever the calling shell had for development or a bench run
        # (the operator's other settings, e.g. PRAHARI_DB_POOLER, pass through).
        self.env = {k: v for k, v in env.items() if k not in INHERITED_NOT}
        self.env.update(
            DATABASE_URL=url._replace(path="/" + quote(self.database, safe="")).geturl(),
            CELERY_QUEUE=self.prefix,  # its workers consume only this run's queues
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            DJANGO_BEHIND_PROXY="1",  # the load tool is the TLS proxy: it says https with X-Forwarded-Proto
            DJANGO_TRUSTED_PROXIES="127.0.0.1",  # and it appends each simulated person's address
            PRAHARI_VAR_DIR=str(self.tmp / "var"),
            PRAHARI_BIND=f"127.0.0.1:{self.port}",
            WEB_CONCURRENCY=str(config.web_concurrency),
        )
        self.serve_log, self.serving = self.tmp / "serve.log", None
        self.locust: subprocess.Popen | None = None
        self.sampler: MemorySampler | None = None
        self.groups: set[int] = set()

    # --- the database --------------------------------------------------------------------------------

    def _admin(self):
        import psycopg

        url = self.server_url
        params = {"dbname": "postgres", "autocommit": True, "host": unquote(url.hostname or "") or None}
        params.update(port=url.port, user=unquote(url.username or "") or None, password=unquote(url.password or ""))
        return psycopg.connect(**{k: v for k, v in params.items() if v not in (None, "")})

    def database_create(self) -> str:
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')  # a killed run's leftover
            admin.execute(f'CREATE DATABASE "{self.database}"')
            return "PostgreSQL " + admin.execute("SHOW server_version").fetchone()[0].split()[0]

    def seed(self) -> Path:
        accounts = self.tmp / "accounts.json"
        per = self.config.accounts_per_user
        command = [sys.executable, "-m", "bench._load_seed", "--out", str(accounts)]
        command += ["--workers", str(per * self.config.workers), "--supervisors", str(per * self.config.supervisors)]
        command += ["--beneficiaries", str(self.config.beneficiaries)]
        log = self.tmp / "seed.log"
        with log.open("wb") as out:
            done = subprocess.run(command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, check=False)  # noqa: S603
        if done.returncode:
            raise LoadError(f"seeding the load database failed:\n{_tail(log)}")
        return accounts

    # --- the production profile ----------------------------------------------------------------------

    def serve_start(self) -> None:
        procfile = (ROOT / "Procfile.production").read_text()
        if not re.search(r"^web:\s*gunicorn portal\.wsgi\b", procfile, re.MULTILINE):
            raise LoadError("Procfile.production's web line no longer starts `gunicorn portal.wsgi`: adapt bench/_load")
        load_procfile = self.tmp / "Procfile.load"
        load_procfile.write_text(re.sub(r"gunicorn portal\.wsgi\b", "gunicorn bench._load_wsgi", procfile))
        command = [sys.executable, "-m", "bench._load_serve", str(load_procfile)]
        with self.serve_log.open("wb") as out:
            self.serving = subprocess.Popen(  # noqa: S603
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.groups.add(self.serving.pid)

    def _wait(self, condition, what: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if self.serving.poll() is not None:
                raise LoadError(
                    f"the production profile exited ({self.serving.returncode}) before {what}:\n{_tail(self.serve_log)}"
                )
            if time.monotonic() > deadline:
                raise LoadError(f"{what}: not within {seconds:.0f} s:\n{_tail(self.serve_log)}")
            time.sleep(0.5)

    def ready_wait(self) -> None:
        def ready() -> bool:
            try:
                status, _ = get(self.port, "/readyz")
                if status == 404:  # a profile without /readyz: /healthz answers for the database
                    status, _ = get(self.port, "/healthz")
            except OSError:
                return False
            return status == 200

        self._wait(ready, "the web answering /readyz or /healthz", START_SECONDS)
        self._wait(lambda: "this beat holds the beat lock" in self._log(), "beat holding its lock", START_SECONDS)
        self.groups.update(_session_leaders(self.serving.pid))
        self.sampler = MemorySampler(self.serving.pid)
        self.sampler.start()

    def _log(self) -> str:
        return self.serve_log.read_text(errors="replace")

    def settle(self) -> None:
        """Wait until the Celery workers have finished what beat sent at its start (the jobs run at once)."""

        def idle() -> bool:
            log = self._log()
            received = len(re.findall(r"Task \S+\[[0-9a-f-]+\] received", log))
            finished = len(re.findall(r"Task \S+\[[0-9a-f-]+\] (?:succeeded|failed|raised|retry)", log))
            return received <= finished

        deadline = time.monotonic() + SETTLE_SECONDS
        quiet = 0
        while quiet < 3 and time.monotonic() < deadline:
            quiet = quiet + 1 if idle() else 0
            time.sleep(1)

    # --- the load ------------------------------------------------------------------------------------

    def locust_run(self, accounts: Path, mix: str, seconds: int, name: str) -> list[dict]:
        """One locust run of `mix` for `seconds`; its `--json-file` entries."""
        config, stats = self.config, self.tmp / name
        locust = Path(sys.executable).with_name("locust")
        command = [str(locust), "-f", str(LOCUSTFILE), "--headless", "--only-summary", "--loglevel", "WARNING"]
        command += ["-u", str(config.users), "-r", str(config.users), "-t", f"{seconds}s"]
        command += ["--host", f"http://127.0.0.1:{self.port}", "--json-file", str(stats), "--exit-code-on-error", "0"]
        env = {
            **self.env,
            "LOAD_ACCOUNTS": str(accounts),
            "LOAD_STATE": str(self.tmp / "steps.json"),
            "LOAD_MIX": mix,
            "LOAD_LOOKUPS": str(config.lookups),
            "LOAD_PAGES": str(config.pages),
            "LOAD_SUPERVISORS": str(config.supervisors),
        }
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            self.locust = subprocess.Popen(  # noqa: S603
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                code = self.locust.wait(timeout=seconds + 60)
            except subprocess.TimeoutExpired:
                raise LoadError(f"locust ({name}) did not stop in time:\n{_tail(log)}") from None
            finally:
                self._locust_stop()
        stats_file = stats.with_name(stats.name + ".json")
        if code or not stats_file.exists():
            raise LoadError(f"locust ({name}) exited {code}:\n{_tail(log)}")
        entries = json.loads(stats_file.read_text())
        if not sum(e["num_requests"] for e in entries):
            raise LoadError(f"locust ({name}) saw no answer in {seconds} s:\n{_tail(log)}\n{_tail(self.serve_log)}")
        if sum(e["num_failures"] for e in entries):
            shown = [line for line in log.read_text(errors="replace").splitlines() if "FAILURE" in line]
            print(f"Failures of {name}:\n" + "\n".join(shown or [_tail(log, 30)]), file=sys.stderr)
        return entries

    def drive(self, accounts: Path) -> dict:
        config, sampler = self.config, self.sampler
        sampler.phase = "idle"
        time.sleep(2)
        if config.warmup:
            sampler.phase = "warmup"
            self.locust_run(accounts, "governed", config.warmup, "warmup")
        mixes = {"governed": Mix(), "baseline": Mix()}
        order = ("governed",) if config.governed_only else ("governed", "baseline")
        per_round = config.seconds // config.rounds
        for n in range(config.rounds):
            for mix in order if n % 2 == 0 else order[::-1]:
                sampler.phase = mix
                mixes[mix].add_round(self.locust_run(accounts, mix, per_round, f"{mix}-{n + 1}"))
        sampler.phase = None
        result = {**mixes["governed"].figures(), "rss_mb": sampler.peaks("governed")}
        result["rss_mb"]["idle"] = sampler.peaks("idle")
        result["rss_mb"]["high_water"] = sampler.high_water()
        steps = self.tmp / "steps.json"
        result["account_wait_s"] = json.loads(steps.read_text())["waited_s"] if steps.exists() else 0.0
        if not config.governed_only:
            baseline = {**mixes["baseline"].figures(), "rss_mb": sampler.peaks("baseline")}
            result["baseline"] = {**baseline, **ratios(result, baseline)}
        return result

    # --- the end -------------------------------------------------------------------------------------

    def _locust_stop(self) -> None:
        if self.locust is not None and self.locust.poll() is None:
            os.killpg(self.locust.pid, signal.SIGKILL)
            self.locust.wait(timeout=STOP_SECONDS)
        self.locust = None

    def close(self) -> None:
        """Stop everything this run started, empty its queues, drop its database, remove its files."""
        self._locust_stop()
        if self.sampler is not None:
            self.sampler.stop()
        if self.serving is not None:
            self.groups.update(_session_leaders(self.serving.pid))
            if self.serving.poll() is None:
                os.killpg(self.serving.pid, signal.SIGTERM)  # as Ctrl-C would: honcho stops its processes
                with contextlib.suppress(subprocess.TimeoutExpired):  # whatever survives is killed below
                    self.serving.wait(timeout=STOP_SECONDS)
            deadline = time.monotonic() + STOP_SECONDS
            while (alive := [g for g in self.groups if group_alive(g)]) and time.monotonic() < deadline:
                time.sleep(0.2)
            for group in alive:
                os.killpg(group, signal.SIGKILL)
            if self.serving.poll() is None:
                self.serving.wait(timeout=STOP_SECONDS)
        _queues_forget(self.env["REDIS_URL"], self.prefix)
        try:
            with self._admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        except Exception as error:  # report it: the rest of the clean-up still runs
            print(f"make load: could not drop the database {self.database}: {error}", file=sys.stderr)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _session_leaders(pid: int) -> set[int]:
    """The processes under `pid` that lead a session of their own (honcho starts each of its processes so)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    leaders = set()
    for child in children:
        try:
            if os.getsid(child.pid) == child.pid:
                leaders.add(child.pid)
        except OSError:
            continue
    return leaders


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group `pgid` is still running."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _queues_forget(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)
    except redis.RedisError as error:
        print(f"make load: could not empty its queues ({prefix}): {error}", file=sys.stderr)
    finally:
        client.close()
