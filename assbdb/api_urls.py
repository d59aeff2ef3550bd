"""REST API routes: /api/v1/… resources, /api/schema/ (OpenAPI 3), /api/docs/ (Swagger UI, served offline)."""
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from apps.accounts.api import ApiTokenView, ApiTokenViewSet, ResearchGroupViewSet
from apps.analysis.api import ArrheniusFitViewSet, ConductivityViewSet, FitProtocolViewSet, FitResultViewSet, JobViewSet
from apps.benchmarks.api import (
    BenchmarkEntryViewSet,
    LiteratureValueViewSet,
    SeparatorAcceptedCellsView,
    SeparatorAcceptedCellView,
    SeparatorRoundRobinView,
)
from apps.catalog.api import (
    CellViewSet,
    ElectrodeViewSet,
    InterfaceViewSet,
    MaterialViewSet,
    SeparatorViewSet,
    SourceViewSet,
)
from apps.common.api import api_not_found
from apps.measurements.api import CCDTestViewSet, DCPolarisationViewSet, RawFileViewSet, SpectrumViewSet
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
router.register("dc-polarisations", DCPolarisationViewSet, basename="dcpolarisation")
router.register("ccd-tests", CCDTestViewSet, basename="ccdtest")
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
    # Any integer reaches the view (a JSON 404 for ids that cannot exist), like the router's routes.
    re_path(r"^v1/separators/(?P<pk>-?[0-9]+)/accepted-cells/$", SeparatorAcceptedCellsView.as_view(),
            name="separator-accepted-cells"),
    re_path(r"^v1/separators/(?P<pk>-?[0-9]+)/accepted-cells/(?P<cell_pk>-?[0-9]+)/$",
            SeparatorAcceptedCellView.as_view(), name="separator-accepted-cell"),
    re_path(r"^v1/separators/(?P<pk>-?[0-9]+)/round-robin/$", SeparatorRoundRobinView.as_view(),
            name="separator-round-robin"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (?script=), as the Content-Security-Policy requires.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    re_path(r"^.*$", api_not_found, name="not-found"),
]
