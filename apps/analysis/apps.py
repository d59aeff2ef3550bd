from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "apps.analysis"

    def ready(self) -> None:
        from apps.common.flags import register_flags
        from apps.common.titles import register_titles

        from . import jobs  # noqa: F401  (registers the analysis job kinds with apps.jobs)
        from .flags import ARC_ORIGIN_TITLES, FIT_FLAGS
        from .models import ElementRole

        register_flags(*FIT_FLAGS)
        register_titles("role", {**ARC_ORIGIN_TITLES, **{role.value: role.label for role in ElementRole}})
