from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    name = "apps.benchmarks"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the recompute hooks)
