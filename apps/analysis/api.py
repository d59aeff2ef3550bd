"""API viewsets of analysis results, protocols and jobs. Reads from the selectors, writes through the services."""
from django.db.models import Prefetch
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.permissions import require_group_member
from apps.common.api import (
    ApiViewMixin,
    CSVRenderer,
    ExportMixin,
    FiniteJSONRenderer,
    export_parameter,
    export_schema,
    rows_to_csv,
)
from apps.common.rounding import BOUND, VALUE, rounded_row

from . import services
from .filters import ArrheniusFitFilterSet, ConductivityFilterSet, FitProtocolFilterSet, FitResultFilterSet, JobFilterSet
from .models import Conductivity, FitResult
from .selectors import (
    visible_arrhenius_fits, visible_conductivities, visible_fits, visible_fits_to_list, visible_jobs, visible_protocols,
)
from .serializers import (
    ArrheniusFitSerializer,
    ConductivitySerializer,
    FitProtocolSerializer,
    FitResultDetailSerializer,
    FitResultSerializer,
    JobAcceptedSerializer,
    JobSerializer,
)

# In files a fit's parameters are rounded to their standard errors, name by name.
FIT_UNCERTAINTIES = {"stderr": {"parameters": VALUE}}


def job_accepted(job, request) -> Response:
    """202 Accepted with the job and the URL to poll."""
    data = JobSerializer(job, context={"request": request}).data
    response = Response({"job": data, "job_url": data["url"]}, status=status.HTTP_202_ACCEPTED)
    response["Location"] = data["url"]
    return response


@extend_schema_view(
    list=extend_schema(
        summary="List fit protocols",
        description="Standard protocols (used for benchmarks) and the protocols of your groups.",
    ),
    retrieve=extend_schema(summary="One fit protocol"),
    partial_update=extend_schema(
        summary="Edit a protocol that has not been used yet",
        description="Once a protocol has fitted a spectrum its fitting fields are frozen (400): make a new "
        "version with `versions/` instead. Name and group cannot be changed.",
    ),
    create=extend_schema(
        summary="Create a protocol of your group",
        description="Version 1 of a new protocol; the circuit uses impedance.py syntax. Use `versions` to change one.",
        examples=[
            OpenApiExample(
                "Hybrid separator",
                value={
                    "name": "PEO-LLZTO hybrid", "group": 1, "circuit": "R0-p(R1,CPE1)-CPE2",
                    "element_roles": {"R0": "series", "R1": "total", "CPE1": "total", "CPE2": "electrode"},
                    "frequency_min_hz": 1, "frequency_max_hz": 1e6,
                },
                request_only=True,
            )
        ],
    ),
)
class FitProtocolViewSet(
    ApiViewMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    serializer_class = FitProtocolSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_class = FitProtocolFilterSet
    search_fields = ["name", "description", "circuit"]
    ordering_fields = ["name", "version", "created_at", "pk"]

    def get_queryset(self):
        return visible_protocols(user=self.request.user).select_related("group")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        require_group_member(self.request.user, data["group"])
        protocol = services.create_protocol(user=self.request.user, **data)
        serializer.instance = self.get_queryset().get(pk=protocol.pk)

    def perform_update(self, serializer):
        changes = {k: v for k, v in serializer.validated_data.items() if k not in {"name", "group"}}
        protocol = services.update_protocol(protocol=serializer.instance, user=self.request.user, **changes)
        serializer.instance = self.get_queryset().get(pk=protocol.pk)

    @extend_schema(
        summary="Make a new version of a protocol",
        description="A copy of this protocol with your changes as the next version; the old version is kept.",
        request=FitProtocolSerializer(partial=True),
        responses={201: FitProtocolSerializer},
    )
    @action(detail=True, methods=["post"])
    def versions(self, request, pk=None):
        base = self.get_object()
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = {k: v for k, v in serializer.validated_data.items() if k not in {"name", "group"}}
        protocol = services.create_protocol_version(base=base, user=request.user, **changes)
        return Response(self.get_serializer(protocol).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Re-fit every spectrum under this protocol",
        description="Queues one job that fits every spectrum the protocol applies to, in chunks, with progress.",
        request=None,
        responses={202: JobAcceptedSerializer},
    )
    @action(detail=True, methods=["post"])
    def refit(self, request, pk=None):
        protocol = self.get_object()  # object permission: members of the protocol's group
        return job_accepted(services.refit_protocol(protocol=protocol, user=request.user), request)


@extend_schema_view(
    list=extend_schema(
        summary="List fits",
        description="Fits of the spectra visible to you; residuals only in the detail.",
    ),
    retrieve=extend_schema(summary="One fit, with residuals and correlations"),
    export=export_schema(FitResultSerializer, "fits"),
)
class FitResultViewSet(ApiViewMixin, ExportMixin, viewsets.ReadOnlyModelViewSet):
    filterset_class = FitResultFilterSet
    search_fields = ["protocol__name", "spectrum__label", "spectrum__cell__name"]
    ordering_fields = ["created_at", "updated_at", "reduced_chi_square", "spectrum__temperature_c", "pk"]
    export_filename = "fits"
    export_uncertainties = FIT_UNCERTAINTIES

    def get_queryset(self):
        if self.action == "list":
            return visible_fits_to_list(user=self.request.user)
        fits = visible_fits(user=self.request.user)
        if self.action == "export":  # the list serializer shows no residuals or correlations (recomputed)
            return fits.defer("spectrum__metadata")
        return fits

    def get_serializer_class(self):
        return FitResultDetailSerializer if self.action in {"retrieve", "fit_export"} else FitResultSerializer

    @extend_schema(
        summary="Download one fit as CSV or JSON",
        description="CSV: one row per parameter (value, standard error). JSON: the fit with residuals.",
        parameters=[export_parameter()],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/json"): FitResultDetailSerializer},
    )
    @action(detail=True, methods=["get"], url_path="export", renderer_classes=[CSVRenderer, FiniteJSONRenderer])
    def fit_export(self, request, pk=None):
        fit: FitResult = self.get_object()
        if request.accepted_renderer.format == "json":
            data = rounded_row(FitResultDetailSerializer(fit, context=self.get_serializer_context()).data,
                               FIT_UNCERTAINTIES)
            content = FiniteJSONRenderer().render(data)
            response = HttpResponse(content, content_type="application/json")
            extension = "json"
        else:
            rows = [
                rounded_row({"parameter": name, "value": value, "stderr": fit.stderr.get(name)},
                            {"stderr": {"value": VALUE}})
                for name, value in fit.parameter_items()
            ]
            rows += [
                {"parameter": "chi_square", "value": fit.chi_square, "stderr": None},
                {"parameter": "reduced_chi_square", "value": fit.reduced_chi_square, "stderr": None},
            ]
            response = HttpResponse(
                rows_to_csv(rows, header=["parameter", "value", "stderr"]), content_type="text/csv; charset=utf-8"
            )
            extension = "csv"
        response["Content-Disposition"] = f'attachment; filename="fit-{fit.pk}.{extension}"'
        return response


@extend_schema_view(
    list=extend_schema(
        summary="List conductivities",
        description="σ = L/(R·A) per fit (bulk, grain boundary, total) with propagated standard error, S/cm.",
    ),
    retrieve=extend_schema(summary="One conductivity"),
    export=export_schema(ConductivitySerializer, "conductivities"),
)
class ConductivityViewSet(ApiViewMixin, ExportMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ConductivitySerializer
    filterset_class = ConductivityFilterSet
    search_fields = ["spectrum__label", "spectrum__cell__name", "spectrum__cell__separator__name"]
    ordering_fields = ["conductivity_s_per_cm", "temperature_c", "thickness_um", "kind", "pk"]
    export_filename = "conductivities"
    export_uncertainties = {
        "resistance_stderr_ohm": {"resistance_ohm": VALUE},
        "conductivity_stderr_s_per_cm": {"conductivity_s_per_cm": VALUE},
    }

    def get_queryset(self):
        # Only the fit's id and protocol are shown: none of its JSON columns are read. The separator id is shown
        # to those who see the spectrum, cell and separator: their ownership columns are read with it.
        owned = ("group_id", "visibility", "embargo_until", "created_by_id")
        return visible_conductivities(user=self.request.user).select_related("spectrum__cell__separator").only(
            *(f.attname for f in Conductivity._meta.concrete_fields),
            "fit__id", "fit__protocol_id", "fit__protocol__name", "fit__protocol__version",
            "spectrum__id", "spectrum__cell_id", "spectrum__cell__id", "spectrum__cell__separator_id",
            "spectrum__cell__separator__id",
            *(f"{prefix}{name}" for prefix in ("spectrum__", "spectrum__cell__", "spectrum__cell__separator__")
              for name in owned),
        )


@extend_schema_view(
    list=extend_schema(
        summary="List Arrhenius fits",
        description="Activation energy (eV, with standard error) and σ at 25 °C (with 95 % interval) per separator, "
        "conductivity kind and form; each names its form and temperature range.",
    ),
    retrieve=extend_schema(summary="One Arrhenius fit"),
    export=export_schema(ArrheniusFitSerializer, "Arrhenius fits"),
)
class ArrheniusFitViewSet(ApiViewMixin, ExportMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ArrheniusFitSerializer
    filterset_class = ArrheniusFitFilterSet
    search_fields = ["separator__name"]
    ordering_fields = ["activation_energy_ev", "sigma_25c_s_per_cm", "updated_at", "pk"]
    export_filename = "arrhenius-fits"
    export_uncertainties = {
        "activation_energy_stderr_ev": {"activation_energy_ev": VALUE},
        "sigma_25c_stderr_s_per_cm": {
            "sigma_25c_s_per_cm": VALUE, "sigma_25c_ci_low_s_per_cm": BOUND, "sigma_25c_ci_high_s_per_cm": BOUND,
        },
    }

    def get_queryset(self):
        return visible_arrhenius_fits(user=self.request.user)


@extend_schema_view(
    list=extend_schema(
        summary="List jobs",
        description="Background computations you started or that belong to your groups; newest first. "
        "Anonymous users see none.",
    ),
    retrieve=extend_schema(
        summary="One job: state and progress",
        description="Poll this after a fit or an upload: `state` goes queued → running → succeeded | failed; "
        "`progress.fraction` runs from 0 to 1; `error` says why a job failed.",
    ),
)
class JobViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = JobSerializer
    filterset_class = JobFilterSet
    search_fields = ["shown_target_label"]  # a hidden target's name is not searchable
    ordering_fields = ["created_at", "started_at", "finished_at", "state", "pk"]

    def get_queryset(self):
        return visible_jobs(user=self.request.user)


def fits_prefetch(user) -> Prefetch:
    """The fits of a spectrum that `user` may see, for nesting in a spectrum's detail, with their protocols. The
    spectrum and its cell are joined only to apply the visibility rule: a prefetch gives each fit its spectrum."""
    fits = visible_fits(user=user).select_related(None).select_related("protocol").order_by("protocol__name", "pk")
    return Prefetch("fits", queryset=fits, to_attr="visible_fits")


__all__ = [
    "ArrheniusFitViewSet",
    "ConductivityViewSet",
    "FitProtocolViewSet",
    "FitResultViewSet",
    "JobViewSet",
    "fits_prefetch",
    "job_accepted",
]
