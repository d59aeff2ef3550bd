"""KramersKronigCheck gets its verdict (passed / failed / insufficient_data) and a short reason.

Rows stored before take their verdict from ``passed``: they were judged with no point-count rule, so a
short spectrum that passed then stays "passed" until it is checked again (a re-analysis stores the new
verdict).
"""
from django.db import migrations, models


def verdict_from_passed(apps, schema_editor):
    KramersKronigCheck = apps.get_model("analysis", "KramersKronigCheck")
    KramersKronigCheck.objects.filter(passed=True).update(verdict="passed")
    KramersKronigCheck.objects.filter(passed=False).update(verdict="failed")


class Migration(migrations.Migration):
    dependencies = [("analysis", "0007_drop_indexes_covered_by_composite_ones")]

    operations = [
        migrations.AddField(
            model_name="kramerskronigcheck",
            name="verdict",
            field=models.CharField(
                choices=[("passed", "Passed"), ("failed", "Failed"), ("insufficient_data", "Not enough data to judge")],
                default="passed", max_length=20,
                help_text="passed: systematic_residual ≤ threshold; insufficient_data: < 20 points or < 5 per decade.",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="kramerskronigcheck",
            name="reason",
            field=models.CharField(blank=True, help_text="Why the verdict, in a few words.", max_length=200),
        ),
        migrations.AlterField(
            model_name="kramerskronigcheck",
            name="passed",
            field=models.BooleanField(
                help_text="verdict == passed (a spectrum too short or sparse to judge never passes)."),
        ),
        migrations.AlterField(
            model_name="kramerskronigcheck",
            name="threshold",
            field=models.FloatField(
                help_text="Limit the systematic residual was held to: max(floor 0.4 %, min(1.5 %, 4.5·σ̂/√9))."),
        ),
        migrations.RunPython(verdict_from_passed, migrations.RunPython.noop),
    ]
