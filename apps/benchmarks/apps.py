from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    name = "apps.benchmarks"

    def ready(self) -> None:
        from . import jobs, signals  # noqa: F401  (registers the recompute job kind, connects the hooks)
