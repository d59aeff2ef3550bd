from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    name = "apps.benchmarks"

    def ready(self) -> None:
        from apps.common.serializers import register_completeness_provider
        from apps.common.titles import register_titles

        from . import jobs, signals  # noqa: F401  (registers the recompute job kind, connects the hooks)
        from .completeness import completeness_of
        from .flags import FLAGS

        register_titles("flag", {code: flag.label for code, flag in FLAGS.items()})
        register_completeness_provider(completeness_of)
