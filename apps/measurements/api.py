"""API viewsets of spectra and raw files (read, upload, bulk-create, export, fit) and of DC polarisations and
CCD tests (list, read, create)."""
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from apps.accounts.models import Membership
from apps.analysis.api import fits_prefetch, job_accepted
from apps.analysis.selectors import visible_jobs, visible_protocols
from apps.analysis.serializers import JobAcceptedSerializer
from apps.catalog.selectors import visible_cells
from apps.common.api import (
    AnyMediaRenderer,
    ApiViewMixin,
    CSVRenderer,
    ExportMixin,
    FiniteJSONRenderer,
    export_parameter,
    export_schema,
)
from apps.accounts.record_api import RecordDeleteMixin, RecordHistoryMixin
from apps.jobs.models import Job
from apps.common.rounding import VALUE
from apps.common.parsers import BoundedJSONParser

from . import exports, services
from .filters import RawFileFilterSet, SpectrumFilterSet
from .selectors import (
    visible_ccd_tests, visible_dc_polarisations, visible_raw_files, visible_spectra, visible_spectra_to_show,
)
from .serializers import (
    BulkCreateSerializer,
    CCDTestSerializer,
    DCPolarisationSerializer,
    FitRequestSerializer,
    RawFileSerializer,
    SpectrumDetailSerializer,
    SpectrumListSerializer,
    UploadResultSerializer,
    UploadSerializer,
    kk_passed_of_verdict,
)

ZIP_MAGIC = b"PK\x03\x04"
DETAIL_ACTIONS = {"retrieve", "spectrum_export", "fit"}


def _ingest_error_fields(exc: services.IngestError) -> dict[str, list[str]]:
    field = exc.field if exc.field and exc.field not in {"file", "impedance"} and "frequencies" not in exc.field else "file"
    return {field: [str(exc)]}


@extend_schema_view(
    list=extend_schema(
        summary="List impedance spectra (without arrays)",
        description="Spectra visible to you (the spectrum and its cell both visible). Filter by temperature, stack "
        "pressure, separator thickness, family, processing route, configuration, group, DOI, dates.",
    ),
    retrieve=extend_schema(
        summary="One spectrum with its arrays",
        description="`frequencies_hz`, `z_real_ohm`, `z_imag_ohm` (Z'' negative for capacitive arcs), the "
        "instrument's metadata, the Kramers–Kronig check and the fits visible to you.",
    ),
    export=export_schema(SpectrumListSerializer, "spectra (metadata, no arrays)"),
)
class SpectrumViewSet(RecordHistoryMixin, RecordDeleteMixin, mixins.DestroyModelMixin, ApiViewMixin, ExportMixin,
                      viewsets.ReadOnlyModelViewSet):
    filterset_class = SpectrumFilterSet
    search_fields = ["label", "cell__name", "instrument", "raw_file__original_name"]
    ordering_fields = [
        "created_at", "measured_at", "temperature_c", "stack_pressure_mpa", "cycle_index", "elapsed_time_h",
        "n_points", "label", "pk",
    ]  # fmt: skip
    export_filename = "spectra"
    export_value_paths = {
        "kk_passed": ("kk_check__verdict", kk_passed_of_verdict), "kk_verdict": "kk_check__verdict",
    }

    def get_queryset(self):
        user = self.request.user
        if self.action == "retrieve":
            return visible_spectra_to_show(user=user, detail=True).prefetch_related(fits_prefetch(user))
        if self.action in DETAIL_ACTIONS:
            return visible_spectra(user=user, with_arrays=True).select_related("kk_check")
        if self.action == "list":
            return visible_spectra_to_show(user=user)
        # Exports show only the KK verdict: the instrument metadata stays unread.
        return visible_spectra(user=user).select_related("kk_check").defer("metadata")

    def get_serializer_class(self):
        return SpectrumDetailSerializer if self.action == "retrieve" else SpectrumListSerializer

    def _spectra_by_id(self, spectra) -> list:
        ids = [spectrum.pk for spectrum in spectra]
        by_id = {s.pk: s for s in visible_spectra_to_show(user=self.request.user).filter(pk__in=ids)}
        return [by_id[pk] for pk in ids if pk in by_id]

    def _file_row(self, outcome: services.FileOutcome) -> dict:
        raw_file, spectra = outcome.raw_file, outcome.spectra
        existing = None
        if raw_file is not None and (outcome.status == "duplicate" or outcome.attached):
            new_ids = {s.pk for s in spectra} if outcome.status == "accepted" else set()
            held = self._spectra_by_id(s for s in raw_file.spectra.order_by("index_in_file", "pk") if s.pk not in new_ids)
            existing = {"raw_file": raw_file.pk, "spectra": held}
        return {
            "name": outcome.name,
            "status": outcome.status,
            "reason": outcome.reason,
            "raw_file": raw_file.pk if raw_file is not None else None,
            "existing": existing,
            "spectra": self._spectra_by_id(spectra),
        }

    @extend_schema(
        summary="Upload an instrument file or a zip of them",
        description=(
            "Multipart form: `file` (Gamry .DTA, ZPlot .z, BioLogic .mpt/.mpr, Autolab, CHI, Parstat, VersaStudio, "
            "PowerSuite, CSV/TSV — or a .zip of such files), `cell` (id), optional `conditions` (JSON object) or the "
            "shortcut fields, `visibility`, `embargo_until`, `group`, `attach`. Answers 201 with what was created "
            "(each file accepted, duplicate or rejected with its reason), 200 with `created: 0` when every file was "
            "already stored, or 400 when no file could be read, with a reason per file. A duplicate writes nothing: "
            "its `existing` names the spectra and cells that hold the bytes, and `message` says that the cell and "
            "conditions given were NOT applied; send the upload again with `attach=true` to store the same file as "
            "new spectra on the named cell with the given conditions. Analysis jobs are queued for new spectra."
        ),
        request={"multipart/form-data": UploadSerializer},
        parameters=[
            OpenApiParameter(
                "cell", int, OpenApiParameter.QUERY, required=False,
                description="The cell again, in the URL: permission is then checked before the file is read "
                "(403 at once for a cell you may not write to). Must match the form's `cell`.",
            )
        ],
        responses={
            201: UploadResultSerializer,
            200: OpenApiResponse(UploadResultSerializer, description="Every file was a duplicate."),
        },
    )
    @action(detail=False, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def upload(self, request):
        early_cell = self._writable_cell_before_body(request)
        payload = UploadSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        if early_cell is not None and payload.validated_data["cell"].pk != early_cell.pk:
            raise exceptions.ValidationError({"cell": [f"The form names cell {payload.validated_data['cell'].pk}, "
                                                       f"the URL cell {early_cell.pk}."]})
        upload = payload.validated_data["file"]
        data = upload.read()
        options = {
            "cell": payload.validated_data["cell"],
            "filename": upload.name,
            "data": data,
            "user": request.user,
            "group": payload.validated_data.get("group"),
            "visibility": payload.validated_data.get("visibility"),
            "embargo_until": payload.validated_data.get("embargo_until"),
            "conditions": payload.conditions_dict(),
            "attach": payload.validated_data["attach"],
        }
        try:
            if data[:4] == ZIP_MAGIC or upload.name.lower().endswith(".zip"):
                outcomes = services.ingest_zip(**options).files
            else:
                outcomes = [services.FileOutcome.from_report(upload.name, services.ingest_upload(**options))]
            files = [self._file_row(outcome) for outcome in outcomes]
        except services.IngestError as exc:
            raise exceptions.ValidationError(_ingest_error_fields(exc)) from exc
        counts = {state: sum(1 for f in files if f["status"] == state) for state in ("accepted", "duplicate", "rejected")}
        if not files or counts["rejected"] == len(files):
            reasons = [f"{f['name']}: {f['reason']}" for f in files] or [f"{upload.name}: the archive holds no file"]
            raise exceptions.ValidationError({"file": reasons})
        new_ids = [s.pk for f in files if f["status"] == "accepted" for s in f["spectra"]]
        jobs = visible_jobs(user=request.user).filter(
            kind=Job.Kind.ANALYSE_SPECTRUM, target_type="spectrum", target_id__in=new_ids
        )
        body = {
            "created": len(new_ids),
            "duplicates": counts["duplicate"],
            "rejected": counts["rejected"],
            "message": "\n".join(f"{f['name']}: {f['reason']}" for f in files if f["existing"] is not None),
            "files": files,
            "jobs": list(jobs.order_by("target_id", "pk")),
        }
        return Response(
            UploadResultSerializer(body, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED if counts["accepted"] else status.HTTP_200_OK,
        )

    def _writable_cell_before_body(self, request):
        """Refuse an upload before its body is read: no group to write to, or a ?cell= the user may not write to."""
        user = request.user
        if not user.is_superuser and not Membership.objects.filter(user=user).exists():
            raise exceptions.PermissionDenied("You are not a member of any research group, so you cannot upload.")
        cell_id = request.query_params.get("cell")
        if cell_id is None:
            return None
        if not cell_id.isdigit():
            raise exceptions.ValidationError({"cell": [f"{cell_id!r} is not a cell id."]})
        cell = visible_cells(user=user).filter(pk=int(cell_id)).first()
        if cell is None:
            raise exceptions.NotFound(f"No cell {cell_id} is visible to you.")
        if not user.is_superuser and not Membership.objects.filter(user=user, group_id=cell.group_id).exists():
            raise exceptions.PermissionDenied(f"You are not a member of {cell.group}, which owns cell {cell.name!r}.")
        return cell

    @extend_schema(
        summary="Create spectra from arrays (JSON)",
        description="All or nothing, in one transaction: an error names the item and field, e.g. "
        "`spectra[2].frequencies_hz`. Analysis jobs are queued for the new spectra.",
        request=BulkCreateSerializer,
        responses={201: SpectrumListSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Two temperatures",
                value={
                    "cell": 3,
                    "spectra": [
                        {"frequencies_hz": [1e6, 1e5, 1e4, 1e3, 1e2], "z_real_ohm": [12, 95, 610, 980, 1010],
                         "z_imag_ohm": [-80, -310, -420, -90, -12], "temperature_c": 25, "stack_pressure_mpa": 10},
                        {"frequencies_hz": [1e6, 1e5, 1e4, 1e3, 1e2], "z_real_ohm": [10, 60, 300, 420, 430],
                         "z_imag_ohm": [-50, -160, -170, -30, -5], "temperature_c": 40, "stack_pressure_mpa": 10},
                    ],
                },
                request_only=True,
            )
        ],
    )
    @action(detail=False, methods=["post"], parser_classes=[BoundedJSONParser])
    def bulk(self, request):
        payload = BulkCreateSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        items = [
            {key: value for key, value in dict(item).items() if value is not None or key == "embargo_until"}
            for item in payload.validated_data["spectra"]
        ]
        try:
            created = services.create_spectra_from_arrays(
                cell=payload.validated_data["cell"], user=request.user, spectra=items
            )
        except services.IngestError as exc:
            raise exceptions.ValidationError({exc.field or "spectra": [exc.reason]}) from exc
        data = SpectrumListSerializer(self._spectra_by_id(created), many=True, context=self.get_serializer_context())
        return Response(data.data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Fit a spectrum (in the background)",
        description="Under a protocol (`protocol`: id) or a circuit of your own (`circuit`, impedance.py syntax, "
        "e.g. `R0-p(R1,CPE1)-CPE2`). Members of the spectrum's group only. Answers 202 with the job to poll.",
        request=FitRequestSerializer,
        responses={202: JobAcceptedSerializer},
        examples=[
            OpenApiExample("Standard protocol", value={"protocol": 1}, request_only=True),
            OpenApiExample("Own circuit", value={"circuit": "R0-p(R1,CPE1)-CPE2"}, request_only=True),
        ],
    )
    @action(detail=True, methods=["post"], parser_classes=[BoundedJSONParser, FormParser, MultiPartParser])
    def fit(self, request, pk=None):
        from apps.analysis import services as analysis_services

        spectrum = self.get_object()  # 404 when hidden, 403 unless a member of its group
        payload = FitRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        protocol = None
        if "protocol" in payload.validated_data:
            protocol = visible_protocols(user=request.user).filter(pk=payload.validated_data["protocol"]).first()
            if protocol is None:
                raise exceptions.ValidationError(
                    {"protocol": [f"No fit protocol {payload.validated_data['protocol']} is visible to you."]}
                )
        job = analysis_services.request_fit(
            spectrum=spectrum, user=request.user, protocol=protocol, circuit=payload.validated_data.get("circuit")
        )
        return job_accepted(job, request)

    @extend_schema(
        summary="Download one spectrum as CSV or JSON",
        description="CSV: `# assbdb key=value` metadata lines, then frequency_hz,z_real_ohm,z_imag_ohm rows. JSON: "
        "the documented `assbdb-spectrum` v1 document. Both can be uploaded again unchanged.",
        parameters=[export_parameter()],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/json"): OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get"], url_path="export", renderer_classes=[CSVRenderer, FiniteJSONRenderer])
    def spectrum_export(self, request, pk=None):
        spectrum = self.get_object()
        if request.accepted_renderer.format == "json":
            text = exports.spectrum_json(spectrum, user=request.user)
            response = HttpResponse(text, content_type="application/json")
            name = exports.export_filename(spectrum, "json")
        else:
            text = exports.spectrum_csv(spectrum, user=request.user)
            response = HttpResponse(text, content_type="text/csv; charset=utf-8")
            name = exports.export_filename(spectrum, "csv")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


@extend_schema_view(
    list=extend_schema(summary="List raw instrument files", description="Metadata of the files visible to you."),
    retrieve=extend_schema(summary="One raw file's metadata"),
)
class RawFileViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = RawFileSerializer
    filterset_class = RawFileFilterSet
    search_fields = ["original_name", "sha256", "format"]
    ordering_fields = ["created_at", "original_name", "size_bytes", "pk"]

    def get_queryset(self):
        return visible_raw_files(user=self.request.user)

    @extend_schema(
        summary="Download the original file",
        description="The bytes exactly as uploaded, as an attachment under the original name.",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"], renderer_classes=[FiniteJSONRenderer, AnyMediaRenderer])
    def download(self, request, pk=None):
        raw_file = self.get_object()
        if not raw_file.file.name or not default_storage.exists(raw_file.file.name):
            raise exceptions.NotFound(f"The stored bytes of raw file {raw_file.pk} are missing from the file storage.")
        return FileResponse(
            default_storage.open(raw_file.file.name, "rb"),
            as_attachment=True,
            filename=raw_file.original_name,
            content_type="application/octet-stream",
        )


class CellMeasurementViewSet(ApiViewMixin, ExportMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """List, read and create a cell's DC polarisations or CCD tests; visible when the record and its cell are.

    Subclasses name the selector and the measurement service (`create_service(cell=, user=, **fields)`).
    """

    http_method_names = ["get", "post", "head", "options"]
    ordering_fields = ["created_at", "measured_at", "temperature_c", "pk"]
    filterset_fields = ["cell"]

    def get_queryset(self):
        return type(self).selector(user=self.request.user).select_related("cell__separator", "group")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        record = type(self).create_service(cell=data.pop("cell"), user=self.request.user, **data)
        serializer.instance = self.get_queryset().filter(pk=record.pk).first() or record


@extend_schema_view(
    list=extend_schema(summary="List DC polarisations", description="Electronic-conductivity measurements of cells."),
    retrieve=extend_schema(summary="One DC polarisation, with σ_e and its current trace"),
    create=extend_schema(
        summary="Record a DC polarisation",
        description="Members of the cell's group. `time_s`/`current_a`: optional current trace (equal lengths).",
        examples=[OpenApiExample("0.5 V", value={"cell": 1, "voltage_v": 0.5, "steady_current_a": 3.1e-9})],
    ),
    export=export_schema(DCPolarisationSerializer, "DC polarisations"),
)
class DCPolarisationViewSet(CellMeasurementViewSet):
    serializer_class = DCPolarisationSerializer
    selector = staticmethod(visible_dc_polarisations)
    create_service = staticmethod(services.create_dc_polarisation)
    export_filename = "dc-polarisations"
    export_uncertainties = {"electronic_conductivity.stderr_s_per_cm": {"value_s_per_cm": VALUE}}


@extend_schema_view(
    list=extend_schema(summary="List critical-current-density tests", description="CCD tests of cells, with protocol."),
    retrieve=extend_schema(summary="One CCD test, with its protocol and steps"),
    create=extend_schema(
        summary="Record a CCD test",
        description="Members of the cell's group. The protocol needs the step size, the capacity or duration per "
        "half-cycle and the failure rule; `critical_current_density_ma_per_cm2` null means it did not fail.",
    ),
    export=export_schema(CCDTestSerializer, "CCD tests"),
)
class CCDTestViewSet(CellMeasurementViewSet):
    serializer_class = CCDTestSerializer
    selector = staticmethod(visible_ccd_tests)
    create_service = staticmethod(services.create_ccd_test)
    export_filename = "ccd-tests"
