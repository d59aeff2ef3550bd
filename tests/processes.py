"""Helpers for tests that start another process on the test database (a worker, a management command)."""
from django.conf import settings


def database_url_for_processes() -> str:
    """DATABASE_URL of the PostgreSQL test database this test run uses (its name is set at run time)."""
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
