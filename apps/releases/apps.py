from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "apps.releases"

    def ready(self) -> None:
        from apps.benchmarks.publication import register_published_entries
        from apps.benchmarks.publication import register_retracted_records
        from apps.common.audit import register_audited_models
        from apps.common.deletion import register_record_deleter

        from . import deletion, jobs, selectors  # noqa: F401  (jobs registers its job kind)

        register_audited_models()
        register_published_entries(selectors.published_entries)
        register_retracted_records(selectors.retracted_ids)
        register_record_deleter(deletion.record_delete)
