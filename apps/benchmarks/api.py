"""API viewsets of benchmark entries (with leaderboards) and published literature values (read-only), and the
separator's comparison: accepted cells of other groups (read/write) and the attributed round robin."""
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.catalog.models import MaterialFamily, ProcessingRoute, Separator
from apps.catalog.selectors import visible_cells, visible_separators
from apps.common.api import ApiViewMixin, ExportMixin, export_schema
from apps.common.rounding import BOUND, VALUE

from . import comparisons, selectors
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
    export_uncertainties = {"stderr": {"value": VALUE, "ci_low": BOUND, "ci_high": BOUND}}

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


# --------------------------------------------------------------------------- whose data counts

MAX_ID = 2**63 - 1


class AcceptedCellSerializer(serializers.Serializer):
    cell = serializers.IntegerField(
        source="cell_id", min_value=1, max_value=MAX_ID, help_text="Cell id (another group's cell on this separator)."
    )
    cell_name = serializers.CharField(source="cell.name", read_only=True)
    cell_group = serializers.CharField(source="cell.group.name", read_only=True)
    accepted_by = serializers.CharField(source="accepted_by.username", read_only=True, allow_null=True)
    accepted_at = serializers.DateTimeField(read_only=True)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300)


class RoundRobinValueSerializer(serializers.Serializer):
    metric = serializers.CharField()
    label = serializers.CharField()
    value = serializers.FloatField()
    unit = serializers.CharField()
    stderr = serializers.FloatField(allow_null=True)
    method = serializers.CharField()


class RoundRobinRowSerializer(serializers.Serializer):
    group = serializers.IntegerField(source="group.pk")
    group_name = serializers.CharField(source="group.name")
    counted_in_entries = serializers.BooleanField(
        help_text="True for the separator group's row: its own and accepted cells, the numbers behind its entries."
    )
    cells = serializers.SerializerMethodField()
    values = RoundRobinValueSerializer(many=True)

    def get_cells(self, row) -> list[int]:
        return [cell.pk for cell in row.cells]


def _record_id(value) -> int | None:
    """A path id that can name a row (64-bit, positive), else None."""
    number = int(value)
    return number if 0 < number <= MAX_ID else None


def _separator_or_404(request, pk) -> Separator:
    pk = _record_id(pk)
    separator = visible_separators(user=request.user).filter(pk=pk).first() if pk else None
    if separator is None:
        raise exceptions.NotFound("No such separator (or it is not visible to you).")
    return separator


class SeparatorAcceptedCellsView(ApiViewMixin, APIView):
    """Other groups' cells a member of the separator's group accepted into its benchmark entries."""

    pagination_class = None
    filter_backends: list = []

    @extend_schema(summary="Cells accepted into a separator's entries", responses=AcceptedCellSerializer(many=True))
    def get(self, request, pk):
        separator = _separator_or_404(request, pk)
        rows = comparisons.acceptances(separator=separator, user=request.user)
        return Response(AcceptedCellSerializer(rows, many=True).data)

    @extend_schema(
        summary="Accept another group's cell into a separator's entries",
        description="Members of the separator's group only. The separator's entries are recomputed with the cell.",
        request=AcceptedCellSerializer, responses={201: AcceptedCellSerializer},
    )
    def post(self, request, pk):
        separator = _separator_or_404(request, pk)
        payload = AcceptedCellSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        cell = visible_cells(user=request.user).filter(pk=payload.validated_data["cell_id"]).first()
        if cell is None:
            raise exceptions.ValidationError({"cell": ["No such cell (or it is not visible to you)."]})
        row = comparisons.accept_cell(
            separator=separator, cell=cell, user=request.user, note=payload.validated_data.get("note", "")
        )
        return Response(AcceptedCellSerializer(row).data, status=status.HTTP_201_CREATED)


class SeparatorAcceptedCellView(ApiViewMixin, APIView):
    pagination_class = None
    filter_backends: list = []

    @extend_schema(summary="Stop counting a cell toward a separator's entries", responses={204: None})
    def delete(self, request, pk, cell_pk):
        separator = _separator_or_404(request, pk)
        cell_pk = _record_id(cell_pk)
        cell = visible_cells(user=request.user).filter(pk=cell_pk).first() if cell_pk else None
        if cell is None or not comparisons.withdraw_acceptance(separator=separator, cell=cell, user=request.user):
            raise exceptions.NotFound("This cell is not accepted into the separator's entries.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class SeparatorRoundRobinView(ApiViewMixin, APIView):
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        summary="Round robin of a separator: each group's own numbers, attributed",
        description="The separator group's row (its cells and accepted ones: the numbers behind its entries) and "
        "one row per other group that built cells on it, computed from that group's cells only and from what you "
        "can see. Empty when no other group's cell is visible to you.",
        responses=RoundRobinRowSerializer(many=True),
    )
    def get(self, request, pk):
        separator = _separator_or_404(request, pk)
        rows = comparisons.separator_round_robin(separator=separator, user=request.user)
        return Response(RoundRobinRowSerializer(rows, many=True).data)
