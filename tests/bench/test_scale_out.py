"""bench/scale_out.py: the figures it derives from what the followers saw."""

from __future__ import annotations

from typing import Any

from bench.config import FULL, QUICK
from bench.scale_out import Outcome, phases, tally
from bench.sse import Received


def job(index: int, sent: float, started: float, done: float) -> Outcome:
    """A job POSTed at `sent`, whose follower saw it start and complete at those times,
    each event 10 ms after the server stamped it."""
    seen = [(sent + 0.01, "job.created"), (started, "job.started"), (done, "job.completed")]
    events: list[tuple[float, dict[str, Any]]] = [
        (at, {"type": type_, "seq": seq, "ts": at - 0.01})
        for seq, (at, type_) in enumerate(seen, start=1)
    ]
    return Outcome(f"job-{index}", sent, Received(events=events, opened=sent))


def test_the_drained_rate_counts_what_finished_between_the_last_post_and_the_last_start():
    jobs = [
        job(0, sent=0.0, started=0.1, done=0.9),  # before the last POST: not counted
        job(1, sent=0.5, started=0.6, done=2.0),
        job(2, sent=1.0, started=1.1, done=2.5),  # the last POST
        job(3, sent=1.0, started=2.0, done=3.0),
        job(4, sent=1.0, started=3.0, done=4.0),  # the last start; finishes after it
    ]
    assert phases(jobs) == {"creating_s": 1.0, "drained_jobs_per_s": 1.5}  # 3 in 2 s
    summed = tally(list(jobs))
    assert summed["jobs_per_s"] == 1.2  # 5 jobs from the first POST to the last end, 4 s
    assert summed["drained_jobs_per_s"] == 1.5


def test_runs_are_timed_by_the_server_and_fill_slots_over_the_elapsed_time():
    jobs = [job(0, sent=0.0, started=0.5, done=2.5), job(1, sent=0.0, started=1.0, done=4.0)]
    summed = tally(jobs)
    assert summed["run_s"]["max"] == 3.0 and summed["run_s"]["count"] == 2
    assert summed["busy_slots"] == 1.2  # 2 s + 3 s of runs over the 4 s from the first POST


def test_no_drained_rate_when_the_last_job_started_within_a_second_of_the_last_post():
    jobs = [job(0, sent=0.0, started=0.2, done=1.0), job(1, sent=0.4, started=1.3, done=2.0)]
    assert phases(jobs) == {"creating_s": 0.4, "drained_jobs_per_s": None}


def test_the_model_bound_comparison_is_the_issues_setting_in_full_sizes():
    """Issue 12: each worker's concurrency is the bound, the model at 1 s per call,
    `genflow worker --concurrency 50`; quick sizes keep the shape at a CI's pace."""
    assert FULL.scale_out_bound_concurrency == 50
    assert FULL.scale_out_bound_latency_ms == 1000.0
    for sizes in (FULL, QUICK):
        workers = sizes.scale_out_workers
        rounds = sizes.scale_out_bound_jobs / (workers[-1] * sizes.scale_out_bound_concurrency)
        assert rounds >= 4, sizes.mode  # each run lasts several job lengths past ramp-up
