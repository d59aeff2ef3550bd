"""The project's routes plus /benchmarks/, for tests run before the web routes mount it."""
from django.urls import include, path

from assbdb.urls import urlpatterns as project_urlpatterns

_mounted = any(getattr(p, "namespace", None) == "benchmarks" for p in project_urlpatterns) or any(
    getattr(q, "namespace", None) == "benchmarks"
    for p in project_urlpatterns for q in getattr(p, "url_patterns", []) if hasattr(p, "url_patterns")
)
urlpatterns = list(project_urlpatterns) + ([] if _mounted else [path("benchmarks/", include("apps.benchmarks.urls"))])
