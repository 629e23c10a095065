"""The platform's run as a Dagster job, started every night and whenever a delivery lands (``make serve``).

The job is one op that does exactly what ``kodomo run`` does (``orchestration.runner.run_pipeline``: app entries
and linkage decisions first, the run lock, every asset, then publishing), so a run started by the daemon and one
started by an operator give the same state. Its assets run as a nested run on the same instance, so each step
shows in the UI.

The nightly run trains the models again; the landing sensor's run is a delivery's run (``retrain`` off: it reads the
new files and scores with the published models, in seconds). The landing sensor fingerprints the landing folder (each file's path, size and modification time) and asks for a
run when the fingerprint differs from that of the last run that published, no platform run is under way, and the
landing has been still for one sensor interval (a delivery being copied in is taken whole, not file by file). A run
that crashed published nothing, so the next tick asks again: a delivery is never dropped. A run that finds another
holding the home is skipped with the reason, not failed: the next tick or night takes the delivery. A run that
failed on a delivery is tried again on it only after ``RETRY_FAILED_AFTER`` (a broken delivery does not loop). Schedule and sensor run by default in production only; locally (``make dagster``)
they can be switched on in the UI.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import dagster as dg

from kodomo.settings import Settings, get_settings
from orchestration.lifecycle import RunRefused, run_lock_held

PLATFORM_JOB = "kodomo_platform_run"
SCHEDULE_CRON, SCHEDULE_TIMEZONE = "0 2 * * *", "Asia/Tokyo"  # 02:00 Japan time, after the evening deliveries


LANDING_TAG = "kodomo/landing"  # the fingerprint a sensor's run was asked for
RETRY_FAILED_AFTER = dt.timedelta(hours=1)
START_GRACE = dt.timedelta(minutes=5)  # a requested run takes the run lock within this
UNDER_WAY = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]


def published_fingerprint_path(settings: Settings) -> Path:
    return settings.reports_dir / "landing_fingerprint"


def _delivered(landing: Path) -> list[Path]:
    return sorted(p for p in landing.rglob("*.csv") if p.is_file()) if landing.is_dir() else []


def landing_fingerprint(landing: Path) -> str:
    """A digest of every delivered file's path, size and modification time; empty landing -> digest of nothing."""
    digest = hashlib.sha256()
    for path in _delivered(landing):
        stat = path.stat()
        digest.update(f"{path.relative_to(landing)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def seconds_still(landing: Path) -> float:
    """How long ago the landing's newest file was last written."""
    newest = max((path.stat().st_mtime for path in _delivered(landing)), default=0.0)
    return dt.datetime.now(dt.UTC).timestamp() - newest


# ``retrain``: the nightly run trains the models again; a delivery's run (the sensor's) keeps the published ones, as
# ``kodomo run --incremental`` does.
@dg.op(description="The whole platform run on the landing folder, as `kodomo run` does it, then publish.",
       config_schema={"retrain": dg.Field(bool, default_value=True)})
def run_platform(context) -> None:
    from orchestration.runner import run_pipeline  # the pipeline's definitions import this module

    settings = get_settings()
    fingerprint = landing_fingerprint(settings.landing)  # what this run reads; a delivery during it is the next's
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    try:
        run_pipeline(settings, settings.landing, step_log=settings.logs_dir / "platform_run_steps.log",
                     instance=context.instance, retrain=context.op_config["retrain"])
    except RunRefused as busy:
        context.log.warning(f"skipped: {busy}")
        return
    published_fingerprint_path(settings).write_text(fingerprint, encoding="utf-8")


@dg.job(name=PLATFORM_JOB, executor_def=dg.in_process_executor,
        description="The platform's run: ingest, conform, link, train on schedule, score, publish.")
def platform_run():
    run_platform()


def _under_way(instance: dg.DagsterInstance, settings: Settings) -> bool:
    """Whether a platform run is under way. One recorded as started that is past its start grace while nobody holds
    the run lock lost its process (the server crashed): it is marked failed, and its delivery is asked for again."""
    held = run_lock_held(settings)
    now = dt.datetime.now(dt.UTC).timestamp()
    under_way = False
    for record in instance.get_run_records(dg.RunsFilter(job_name=PLATFORM_JOB, statuses=UNDER_WAY)):
        if held or now - record.create_timestamp.timestamp() < START_GRACE.total_seconds():
            under_way = True
        else:
            instance.report_run_failed(record.dagster_run, "its process is gone (the server stopped mid-run)")
    return under_way


def automation(settings: Settings) -> tuple[dg.ScheduleDefinition, dg.SensorDefinition]:
    """The nightly schedule and the landing sensor of the environment."""
    status = dg.DefaultScheduleStatus.RUNNING if settings.is_production else dg.DefaultScheduleStatus.STOPPED
    nightly = dg.ScheduleDefinition(name="kodomo_nightly", job=platform_run, cron_schedule=SCHEDULE_CRON,
                                    execution_timezone=SCHEDULE_TIMEZONE, default_status=status)

    @dg.sensor(name="kodomo_landing", job=platform_run, minimum_interval_seconds=settings.sensor_seconds,
               default_status=dg.DefaultSensorStatus(status.value))
    def landing_sensor(context: dg.SensorEvaluationContext):
        if _under_way(context.instance, settings):
            return dg.SkipReason("a platform run is under way")
        if not (settings.landing / "agencies.csv").is_file():
            return dg.SkipReason(f"nothing delivered yet: {settings.landing} has no agencies.csv")
        published = published_fingerprint_path(settings)
        fingerprint = landing_fingerprint(settings.landing)
        if published.is_file() and published.read_text(encoding="utf-8") == fingerprint:
            return dg.SkipReason(f"no new delivery in {settings.landing}")
        if seconds_still(settings.landing) < settings.sensor_seconds:
            return dg.SkipReason("a delivery is still arriving: waiting until the landing is still")
        failed = context.instance.get_run_records(dg.RunsFilter(
            job_name=PLATFORM_JOB, tags={LANDING_TAG: fingerprint}, statuses=[dg.DagsterRunStatus.FAILURE]), limit=1)
        if failed and (ended := failed[0].end_time) and \
                dt.datetime.now(dt.UTC).timestamp() - ended < RETRY_FAILED_AFTER.total_seconds():
            return dg.SkipReason(f"the last run on this delivery ({failed[0].dagster_run.run_id}) failed; trying "
                                 f"again {RETRY_FAILED_AFTER} after it")
        return dg.RunRequest(tags={LANDING_TAG: fingerprint},
                             run_config={"ops": {"run_platform": {"config": {"retrain": False}}}})

    return nightly, landing_sensor
