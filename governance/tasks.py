"""Celery tasks of governance: one thin task per job, named `governance.<job>` (beat's schedules use the names)."""

from celery import shared_task

from governance.jobs import JOB_ORDER, job_run


def _governance_task(job: str):
    @shared_task(name=f"governance.{job}")
    def run() -> dict:
        """Run one governance job (governance.jobs); returns its summary."""
        return job_run(job)

    return run


TASKS = {job: _governance_task(job) for job in JOB_ORDER}
