from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    name = "apps.benchmarks"

    def ready(self) -> None:
        from apps.common.titles import register_titles

        from . import jobs, signals  # noqa: F401  (registers the recompute job kind, connects the hooks)
        from .flags import FLAGS

        register_titles("flag", {code: flag.label for code, flag in FLAGS.items()})
