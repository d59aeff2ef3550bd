from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    name = "apps.benchmarks"

    def ready(self) -> None:
        from apps.common.flags import register_flags
        from apps.common.serializers import register_completeness_provider

        from . import jobs, signals  # noqa: F401  (registers the recompute job kind, connects the hooks)
        from .completeness import completeness_of
        from .flags import FLAGS

        register_flags(*FLAGS.values())
        register_completeness_provider(completeness_of)
