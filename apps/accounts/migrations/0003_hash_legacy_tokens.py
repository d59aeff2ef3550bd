"""Move every DRF authtoken key into a hashed, named ApiToken row and delete the plain-text key.

The key itself keeps working (its SHA-256 is what the new authentication
looks up); the database no longer holds it in clear text.
"""
import hashlib

from django.db import migrations

LEGACY_NAME = "API token (before named tokens)"


def hash_legacy_tokens(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    ApiToken = apps.get_model("accounts", "ApiToken")
    for legacy in Token.objects.all().iterator():
        row = ApiToken.objects.create(
            user_id=legacy.user_id,
            name=LEGACY_NAME,
            scope="read_write",
            prefix=legacy.key[:12],
            key_hash=hashlib.sha256(legacy.key.encode()).hexdigest(),
        )
        ApiToken.objects.filter(pk=row.pk).update(created_at=legacy.created)  # auto_now_add ignores a given value
    Token.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_api_tokens"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(hash_legacy_tokens, migrations.RunPython.noop)]
