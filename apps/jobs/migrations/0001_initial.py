"""The Job model moves here from the analysis app; its table (analysis_job) and every row stay.

State only: the table was created by analysis.0001 and altered by analysis.0002;
analysis.0005 removes the model from the analysis app's state afterwards.
"""
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("accounts", "0001_initial"),
        ("analysis", "0004_kk_noise_aware_verdict"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Job",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("kind", models.CharField(choices=[("analyse_spectrum", "Analyse spectrum"), ("validate_spectrum", "Kramers–Kronig check"), ("fit_spectrum", "Fit spectrum"), ("fit_arrhenius", "Arrhenius fit"), ("refit_protocol", "Re-fit under protocol"), ("refit_chunk", "Re-fit a chunk of spectra"), ("recompute_benchmarks", "Recompute benchmarks")], max_length=25)),
                        ("state", models.CharField(choices=[("queued", "Queued"), ("running", "Running"), ("succeeded", "Succeeded"), ("failed", "Failed"), ("cancelled", "Cancelled")], db_index=True, default="queued", max_length=10)),
                        ("target_type", models.CharField(help_text="spectrum, separator, protocol, cell …", max_length=40)),
                        ("target_id", models.PositiveBigIntegerField()),
                        ("target_label", models.CharField(blank=True, max_length=200)),
                        ("params", models.JSONField(blank=True, default=dict)),
                        ("progress_done", models.PositiveIntegerField(default=0)),
                        ("progress_total", models.PositiveIntegerField(default=1)),
                        ("error", models.TextField(blank=True)),
                        ("attempts", models.PositiveSmallIntegerField(default=0, help_text="Times a worker started it.")),
                        ("dispatches", models.PositiveSmallIntegerField(default=0, help_text="Times it was sent to the broker.")),
                        ("result", models.JSONField(blank=True, default=dict, help_text="Summary of what the job produced.")),
                        ("celery_task_id", models.CharField(blank=True, max_length=64)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("heartbeat_at", models.DateTimeField(blank=True, null=True)),
                        ("dispatched_at", models.DateTimeField(blank=True, help_text="Last time it was sent to the broker.", null=True)),
                        ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("group", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="accounts.researchgroup")),
                        ("parent", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="children", to="jobs.job")),
                    ],
                    options={
                        "db_table": "analysis_job",
                        "ordering": ["-created_at", "-pk"],
                        "indexes": [models.Index(fields=["target_type", "target_id"], name="analysis_jo_target__3a1bd5_idx")],
                        "constraints": [models.CheckConstraint(condition=models.Q(("progress_done__lte", models.F("progress_total"))), name="job_progress_within_total")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
