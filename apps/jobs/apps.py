from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "apps.jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the Celery tasks that dispatch_job sends by name)
