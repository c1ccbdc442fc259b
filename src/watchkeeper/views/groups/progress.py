"""Progress arithmetic of the task-groups view (seed 003).

Each process keeps running aggregates (jobs ``DONE``, jobs that reported a progress value and
the sum of their values), so its progress is known after every event without reading its jobs.

A job's *value* is the ``progress`` of its latest event carrying one; "latest" is arrival order
(``seq``), which a rebuild replays identically. A process's progress is a percentage:

===================  =====================  ==================================
threshold            events carry progress  process progress
===================  =====================  ==================================
not set              no                     DONE jobs / jobs x 100
not set              yes                    sum of job values / jobs
set (an amount)      no                     DONE jobs / threshold x 100
set (an amount)      yes                    sum of job values / threshold x 100
===================  =====================  ==================================

"jobs" is the ``needed`` of the list form ``[nJobs, needed]``, or ``nJobs``. ``enough`` is true
once the threshold amount is reached, or with no threshold once the jobs are ``DONE``: the jobs
may stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Digits kept when progress is reported (hides float noise such as 33.333333333333336).
DIGITS = 6


def progress_of(
    n_jobs: int | None,
    threshold: float | None,
    needed: int | None,
    done: int,
    valued: int,
    value_sum: float,
) -> float:
    """A process's progress in percent (it may exceed 100: jobs do not stop at once).

    ``threshold`` is an amount (``thresholdProgress``): values and DONE jobs are measured
    against it. Without one, values are job percentages and the work is ``needed`` jobs (the
    list form ``[nJobs, needed]``) or every job: a value of 50 is half a job, never 50 jobs.
    """
    if threshold is not None:
        return 100.0 * (value_sum if valued else done) / threshold
    jobs = needed or n_jobs or 1
    # Each value is a job percentage: sum / (jobs x 100) x 100.
    return value_sum / jobs if valued else 100.0 * done / jobs


def enough_of(
    n_jobs: int | None,
    threshold: float | None,
    needed: int | None,
    done: int,
    valued: int,
    value_sum: float,
) -> bool:
    """Whether enough is done for the jobs to stop: the amount reaches ``threshold`` (compared
    on the amounts, not the rounded percentage), or without one the ``needed`` jobs (every
    job if not given) are ``DONE``; a job's own percentage never says it is done."""
    if threshold is not None:
        return (value_sum if valued else done) >= threshold
    return done >= (needed or n_jobs or 1)


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS)


def amount(value: float | None) -> float | int | None:
    """A threshold or job value as given: ``8`` stays ``8``, ``2.5`` stays ``2.5``."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def activity(row: Any, procs: Sequence[Any]) -> tuple[float, int]:
    """When a task last heard from a job (its creation if never), and how many events."""
    latest = max((p.last_event_at for p in procs if p.last_event_at is not None), default=None)
    updated = row.created_at if latest is None else max(latest, row.created_at)
    return updated, sum(p.events for p in procs)


def overall(procs: Sequence[Any]) -> tuple[float | None, bool]:
    """A task's progress is the mean of its processes'; it has enough when they all have."""
    if not procs:
        return None, False
    progress = sum(p.progress for p in procs) / len(procs)
    return rounded(progress), all(bool(p.enough) for p in procs)
