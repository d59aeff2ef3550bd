"""Residual arrays and correlation matrices are no longer stored (fits: recomputed from the parameters and the
spectrum; Kramers–Kronig checks: the test run again with the stored number of elements). Before the columns go, a fit that lacks the
summary the flags judge gets it from its stored residuals: ``derived["rms_relative_residual"]``."""
import math

from django.db import migrations

BATCH = 2000


def keep_rms_residual(apps, schema_editor):
    FitResult = apps.get_model("analysis", "FitResult")
    fits = (
        FitResult.objects.filter(status="succeeded")
        .exclude(derived__has_key="rms_relative_residual")
        .only("derived", "residuals_real", "residuals_imag")
    )
    batch = []
    for fit in fits.iterator(chunk_size=BATCH):
        derived = fit.derived if isinstance(fit.derived, dict) else {}
        if derived.get("rms_relative_residual") is not None:
            continue
        values = [v for v in [*(fit.residuals_real or []), *(fit.residuals_imag or [])] if v is not None]
        if not values:
            continue
        fit.derived = {**derived, "rms_relative_residual": math.sqrt(sum(v * v for v in values) / len(values))}
        batch.append(fit)
        if len(batch) >= BATCH:
            FitResult.objects.bulk_update(batch, ["derived"])
            batch = []
    if batch:
        FitResult.objects.bulk_update(batch, ["derived"])


class Migration(migrations.Migration):

    dependencies = [
        ("analysis", "0008_kk_verdict_and_reason"),
    ]

    operations = [
        migrations.RunPython(keep_rms_residual, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(model_name="fitresult", name="correlations"),
        migrations.RemoveField(model_name="fitresult", name="residuals_imag"),
        migrations.RemoveField(model_name="fitresult", name="residuals_real"),
        migrations.RemoveField(model_name="kramerskronigcheck", name="residuals_imag"),
        migrations.RemoveField(model_name="kramerskronigcheck", name="residuals_real"),
    ]
