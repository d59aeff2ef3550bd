from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "apps.analysis"

    def ready(self) -> None:
        from apps.common.flags import register_flags
        from apps.common.titles import register_titles

        from . import jobs, receivers  # noqa: F401  (registers the job kinds; answers new spectra and geometry edits)
        from .flags import ARC_ORIGIN_TITLES, FIT_FLAGS
        from .models import ElementRole

        register_flags(*FIT_FLAGS)
        register_titles("role", {**ARC_ORIGIN_TITLES, **{role.value: role.label for role in ElementRole}})
