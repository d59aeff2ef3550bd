from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    name = "apps.benchmarks"

    def ready(self) -> None:
        from apps.common.flags import register_flags

        from . import jobs, signals  # noqa: F401  (registers the recompute job kind, connects the hooks)
        from .flags import FLAGS

        register_flags(*FLAGS.values())
