"""One Celery beat at a time: the sending beat holds the beat lock (portal/beat_lock.py) for as long as it runs.

Two beats would send every scheduled job twice (PITFALLS.md §Celery), so a second one (started by mistake,
or on a second host for failover) stands by: it tries the lock at each tick, every few seconds, and sends
nothing until it holds it. The holder proves its lock's session at each tick too, and stands by itself
once that session is gone.
"""

from __future__ import annotations

import logging

from django_celery_beat.schedulers import DatabaseScheduler

from portal.beat_lock import BeatLock, lock_connection_params

log = logging.getLogger(__name__)

STANDBY_RETRY_SECONDS = 5.0


class SingleBeatScheduler(DatabaseScheduler):
    """django-celery-beat's database scheduler that sends tasks only while its process holds the beat lock."""

    standby_seconds = STANDBY_RETRY_SECONDS

    def __init__(self, *args, **kwargs) -> None:
        self.beat_lock = BeatLock(params=lock_connection_params())
        self._sending: bool | None = None  # None until the first tick
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs) -> float:
        if not self.beat_lock.acquire():
            if self._sending is not False:
                log.warning(
                    "beat: another beat holds the beat lock; this one stands by and tries again every %.0f s",
                    min(self.standby_seconds, self.max_interval),
                )
            self._sending = False
            return min(self.standby_seconds, self.max_interval)
        if self._sending is not True:
            log.info(
                "beat: this beat holds the beat lock (session %s) and sends the schedule", self.beat_lock.backend_pid()
            )
            # While standing by, another beat moved the schedule on: read it afresh from the database.
            self._initial_read = True
            self._heap = None
        self._sending = True
        return super().tick(*args, **kwargs)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.beat_lock.release()
