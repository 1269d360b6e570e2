"""P7sweep's child process: one run of the anomalies job, as `manage.py governance anomalies --dry-run` runs it.

Started by bench/memory.py with DATABASE_URL naming the bench database and no REDIS_URL (nothing can be
queued), it loads Django and the job's modules, opens its connection, and prints one JSON line with its
resident memory at rest (VmRSS, kB) before the job; then runs the management command, whose one-line JSON
summary follows, and prints its peak (VmHWM, kB). The parent reads the kernel's peak of the whole process
(wait4) as well, so nothing after the last line is missed.

A dry run does every step of the job (the explain step, every rule, evidence, alerts, suspensions, digests,
tallies, watermarks) and rolls it all back at its end: the next run finds the data as this one did, with
no earlier run's alerts to skip, so each run does the same work.
"""

from __future__ import annotations

import gc
import json
import sys


def status_kb(field: str) -> int:
    """A line of /proc/self/status in kB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def main() -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    import governance.jobs  # noqa: F401  (the job's modules, loaded as a worker has them before its first task)

    connection.ensure_connection()
    gc.collect()
    print(json.dumps({"rest_kb": status_kb("VmRSS"), "rest_hwm_kb": status_kb("VmHWM")}), flush=True)
    call_command("governance", "anomalies", "--dry-run")
    sys.stdout.write("\n")
    print(json.dumps({"peak_kb": status_kb("VmHWM")}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
