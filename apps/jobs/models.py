"""The Job row: one background computation, as the pages and the API show it.

The table keeps its original name (``analysis_job``): the model moved here from
the analysis app without moving a row (migration ``jobs.0001_initial``).
Related apps are named by string (``accounts.ResearchGroup``), so this app
imports none of them.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q


class Job(models.Model):
    """One background computation, as the pages and the API show it."""

    class Kind(models.TextChoices):
        # Every kind an app registers (``apps.jobs.registry.register_job_kind``) is listed here,
        # so the column, the admin and the API schema name the same closed set.
        ANALYSE_SPECTRUM = "analyse_spectrum", "Analyse spectrum"
        VALIDATE_SPECTRUM = "validate_spectrum", "Kramers–Kronig check"
        FIT_SPECTRUM = "fit_spectrum", "Fit spectrum"
        FIT_ARRHENIUS = "fit_arrhenius", "Arrhenius fit"
        CHOOSE_SERIES_MODEL = "choose_series_model", "Model choice across a series"
        REFIT_PROTOCOL = "refit_protocol", "Re-fit under protocol"
        REFIT_CHUNK = "refit_chunk", "Re-fit a chunk of spectra"
        RECOMPUTE_BENCHMARKS = "recompute_benchmarks", "Recompute benchmarks"
        PUBLISH_DEMO_RELEASE = "publish_demo_release", "Publish the demo releases"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=25, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED, db_index=True)
    target_type = models.CharField(max_length=40, help_text="spectrum, separator, protocol, cell …")
    target_id = models.PositiveBigIntegerField()
    target_label = models.CharField(max_length=200, blank=True)
    params = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=1)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started it.")
    dispatches = models.PositiveSmallIntegerField(default=0, help_text="Times it was sent to the broker.")
    result = models.JSONField(default=dict, blank=True, help_text="Summary of what the job produced.")
    celery_task_id = models.CharField(max_length=64, blank=True)
    worker_id = models.CharField(max_length=200, blank=True, help_text="The worker process running it (see WorkerHeartbeat).")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    group = models.ForeignKey(
        "accounts.ResearchGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, help_text="Last time it was sent to the broker.")

    class Meta:
        db_table = "analysis_job"
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="analysis_jo_target__3a1bd5_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress_done__lte=models.F("progress_total")), name="job_progress_within_total"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.target_label or f'{self.target_type} {self.target_id}'}: {self.state}"

    @property
    def progress_fraction(self) -> float:
        return self.progress_done / self.progress_total if self.progress_total else 1.0

    @property
    def is_finished(self) -> bool:
        return self.state in {self.State.SUCCEEDED, self.State.FAILED, self.State.CANCELLED}


class WorkerHeartbeat(models.Model):
    """One worker process's sign of life, written every few seconds while it runs (``apps.jobs.worker``).

    A worker that is restarted gets a new row (its id names host, pid and start), so
    the jobs a killed worker was running are recognised as orphaned at once.
    """

    worker_id = models.CharField(max_length=200, unique=True)
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-beat_at"]

    def __str__(self) -> str:
        return f"{self.worker_id} (last beat {self.beat_at:%H:%M:%S})"
