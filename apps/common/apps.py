from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Shared pieces with no models: filter types, API helpers, display formatting and its template tags."""

    name = "apps.common"
    label = "common"
    verbose_name = "Common"
