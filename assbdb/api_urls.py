"""REST API routes: /api/v1/… resources, /api/schema/ (OpenAPI 3), /api/docs/ (Swagger UI, served offline)."""
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from apps.accounts.api import ApiTokenView, ApiTokenViewSet, ResearchGroupViewSet
from apps.analysis.api import ArrheniusFitViewSet, ConductivityViewSet, FitProtocolViewSet, FitResultViewSet, JobViewSet
from apps.benchmarks.api import BenchmarkEntryViewSet, LiteratureValueViewSet
from apps.catalog.api import (
    CellViewSet,
    ElectrodeViewSet,
    InterfaceViewSet,
    MaterialViewSet,
    SeparatorViewSet,
    SourceViewSet,
)
from apps.common.api import api_not_found
from apps.measurements.api import RawFileViewSet, SpectrumViewSet
from apps.releases.api import ReleaseViewSet, RetractionViewSet

app_name = "api"

router = DefaultRouter()
router.register("groups", ResearchGroupViewSet, basename="group")
router.register("auth/tokens", ApiTokenViewSet, basename="apitoken")
router.register("materials", MaterialViewSet, basename="material")
router.register("sources", SourceViewSet, basename="source")
router.register("separators", SeparatorViewSet, basename="separator")
router.register("electrodes", ElectrodeViewSet, basename="electrode")
router.register("interfaces", InterfaceViewSet, basename="interface")
router.register("cells", CellViewSet, basename="cell")
router.register("spectra", SpectrumViewSet, basename="spectrum")
router.register("raw-files", RawFileViewSet, basename="rawfile")
router.register("protocols", FitProtocolViewSet, basename="protocol")
router.register("fits", FitResultViewSet, basename="fit")
router.register("conductivities", ConductivityViewSet, basename="conductivity")
router.register("arrhenius-fits", ArrheniusFitViewSet, basename="arrheniusfit")
router.register("benchmark-entries", BenchmarkEntryViewSet, basename="benchmarkentry")
router.register("literature-values", LiteratureValueViewSet, basename="literaturevalue")
router.register("jobs", JobViewSet, basename="job")
router.register("releases", ReleaseViewSet, basename="release")
router.register("retractions", RetractionViewSet, basename="retraction")

urlpatterns = [
    path("v1/auth/token/", ApiTokenView.as_view(), name="auth-token"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    re_path(r"^.*$", api_not_found, name="not-found"),
]
