"""API viewsets of benchmark entries (with leaderboards) and published literature values. Read-only."""
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.catalog.models import MaterialFamily, ProcessingRoute
from apps.common.api import ApiViewMixin, ExportMixin, export_schema

from . import selectors
from .filters import BenchmarkEntryFilterSet, LiteratureValueFilterSet
from .models import Metric
from .serializers import BenchmarkEntrySerializer, LiteratureValueSerializer, RankedBenchmarkEntrySerializer

MAX_LEADERBOARD_ROWS = 500


@extend_schema_view(
    list=extend_schema(
        summary="List benchmark entries",
        description="Comparable numbers per separator or cell (σ at 25 °C, ASR, activation energy, …), each with "
        "its uncertainty, reporting-completeness score, missing items and flags. Only entries whose separator "
        "or cell you can see.",
    ),
    retrieve=extend_schema(summary="One benchmark entry"),
    export=export_schema(BenchmarkEntrySerializer, "benchmark entries"),
)
class BenchmarkEntryViewSet(ApiViewMixin, ExportMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = BenchmarkEntrySerializer
    filterset_class = BenchmarkEntryFilterSet
    search_fields = ["separator__name", "cell__name", "method"]
    ordering_fields = [
        "metric", "value", "completeness_score", "temperature_c", "stack_pressure_mpa", "thickness_um",
        "computed_at", "pk",
    ]  # fmt: skip
    export_filename = "benchmark-entries"

    def get_queryset(self):
        return selectors.visible_entries(user=self.request.user)

    @extend_schema(
        summary="Leaderboard of one metric",
        description="Entries complete enough (default ≥ 0.7) and without a blocking flag, best first "
        "(highest σ; lowest ASR, activation energy and growth).",
        parameters=[
            OpenApiParameter("metric", str, enum=Metric.values, required=True),
            OpenApiParameter("family", str, enum=MaterialFamily.values),
            OpenApiParameter("processing_route", str, enum=ProcessingRoute.values),
            OpenApiParameter("min_completeness", float, description="0–1; default 0.7."),
            OpenApiParameter("limit", int, description=f"At most this many rows (≤ {MAX_LEADERBOARD_ROWS})."),
        ],
        responses={200: RankedBenchmarkEntrySerializer(many=True)},
    )
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def leaderboard(self, request):
        params = request.query_params
        errors = {}
        metric = params.get("metric", "")
        if metric not in Metric.values:
            errors["metric"] = [f"Choose one of: {', '.join(Metric.values)}."]
        family = params.get("family") or None
        if family is not None and family not in MaterialFamily.values:
            errors["family"] = [f"Choose one of: {', '.join(MaterialFamily.values)}."]
        route = params.get("processing_route") or None
        if route is not None and route not in ProcessingRoute.values:
            errors["processing_route"] = [f"Choose one of: {', '.join(ProcessingRoute.values)}."]
        min_completeness, limit = selectors.DEFAULT_MIN_COMPLETENESS, MAX_LEADERBOARD_ROWS
        try:
            if params.get("min_completeness") not in (None, ""):
                min_completeness = float(params["min_completeness"])
                if not 0.0 <= min_completeness <= 1.0:
                    raise ValueError
        except ValueError:
            errors["min_completeness"] = ["A number from 0 to 1."]
        try:
            if params.get("limit") not in (None, ""):
                limit = min(int(params["limit"]), MAX_LEADERBOARD_ROWS)
                if limit < 1:
                    raise ValueError
        except ValueError:
            errors["limit"] = [f"A whole number from 1 to {MAX_LEADERBOARD_ROWS}."]
        if errors:
            raise exceptions.ValidationError(errors)
        entries = selectors.leaderboard(
            user=request.user, metric=metric, family=family, route=route, min_completeness=min_completeness,
            limit=limit,
        )
        return Response(RankedBenchmarkEntrySerializer(entries, many=True, context=self.get_serializer_context()).data)


@extend_schema_view(
    list=extend_schema(
        summary="List published literature values",
        description="Reported room-temperature conductivities (OBELiX, CC BY 4.0): reported, not re-fitted; "
        "measurement conditions unknown.",
    ),
    retrieve=extend_schema(summary="One literature value"),
    export=export_schema(LiteratureValueSerializer, "literature values"),
)
class LiteratureValueViewSet(ApiViewMixin, ExportMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = LiteratureValueSerializer
    filterset_class = LiteratureValueFilterSet
    search_fields = ["composition", "family_reported", "doi", "space_group"]
    ordering_fields = ["conductivity_s_per_cm", "composition", "family", "pk"]
    export_filename = "literature-values"

    def get_queryset(self):
        return selectors.literature_values()
