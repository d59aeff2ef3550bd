"""The Job model now lives in the jobs app (jobs.0001_initial); its table and rows stay where they are."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("analysis", "0004_kk_noise_aware_verdict"),
        ("jobs", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Job")],
            database_operations=[],
        ),
    ]
