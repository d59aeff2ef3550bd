from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "apps.analysis"

    def ready(self) -> None:
        from . import jobs  # noqa: F401  (registers the analysis job kinds with apps.jobs)
