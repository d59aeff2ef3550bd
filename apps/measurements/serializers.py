"""API representations of spectra, raw files, DC polarisations and CCD tests, and of the upload and
bulk-creation requests."""
import json

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.models import ResearchGroup, Visibility
from apps.accounts.references import can_see
from apps.accounts.serializers import VisibleReferenceIdField, VisibleReferenceNameField
from apps.analysis.eis import derived as eis_derived
from apps.analysis.models import KKVerdict
from apps.analysis.serializers import JobSerializer
from apps.catalog.selectors import visible_cells
from apps.common.parsers import json_depth
from apps.common.serializers import (
    CompletenessMixin, ModelSerializer, Serializer, VisiblePrimaryKeyField, reject_nul_characters,
)

from .models import Atmosphere, CriticalCurrentDensityTest, DCPolarisation, ImpedanceSpectrum, RawFile

MAX_INT32 = 2**31 - 1  # PositiveIntegerField's range on PostgreSQL

CONDITION_FIELDS = [
    "temperature_c", "equilibration_time_min", "atmosphere", "stack_pressure_mpa", "cycle_index", "state_of_charge",
    "elapsed_time_h", "dc_bias_v", "ac_amplitude_mv", "mode", "instrument", "measured_at",
]  # fmt: skip


class SpectrumListSerializer(ModelSerializer):
    """A spectrum without its arrays (lists stay small and fast)."""

    cell_name = VisibleReferenceNameField(source="cell.name", help_text='"private record" when hidden from you.')
    cell_configuration = VisibleReferenceNameField(source="cell.configuration")
    separator = VisibleReferenceIdField(source="cell.separator_id", help_text="Separator id; null when hidden.")
    raw_file = VisibleReferenceIdField(source="raw_file_id", help_text="Raw file id; null when hidden from you.")
    group_name = serializers.CharField(source="group.name", read_only=True)
    kk_passed = serializers.SerializerMethodField(
        help_text="Kramers–Kronig verdict passed (true) or failed (false); null until checked or when the spectrum "
                  "has too few points to judge (see kk_verdict).")
    kk_verdict = serializers.SerializerMethodField(
        help_text="passed, failed or insufficient_data (fewer than 20 points or 5 per decade); null until checked.")

    class Meta:
        model = ImpedanceSpectrum
        fields = [
            "id", "label", "cell", "cell_name", "cell_configuration", "separator", "group", "group_name",
            "visibility", "embargo_until", "raw_file", "index_in_file", "n_points", "frequency_min_hz",
            "frequency_max_hz", "points_per_decade", *CONDITION_FIELDS, "kk_passed", "kk_verdict",
            "created_at",
        ]  # fmt: skip

    def get_kk_passed(self, spectrum) -> bool | None:
        try:
            check = spectrum.kk_check
        except ImpedanceSpectrum.kk_check.RelatedObjectDoesNotExist:
            return None
        return None if check is None else kk_passed_of_verdict(check.verdict)

    def get_kk_verdict(self, spectrum) -> str | None:
        try:
            check = spectrum.kk_check
        except ImpedanceSpectrum.kk_check.RelatedObjectDoesNotExist:
            return None
        return None if check is None else check.verdict


def kk_passed_of_verdict(verdict: str | None) -> bool | None:
    """kk_passed of a verdict: a spectrum too short to judge has neither passed nor failed."""
    return {KKVerdict.PASSED: True, KKVerdict.FAILED: False}.get(verdict)


class KramersKronigSerializer(Serializer):
    n_elements = serializers.IntegerField()
    mu = serializers.FloatField()
    max_abs_residual = serializers.FloatField(help_text="Largest |residual| relative to |Z| (noise included).")
    systematic_residual = serializers.FloatField(
        allow_null=True, help_text="Largest smoothed |residual|: the structure the verdict judges (null: older check)."
    )
    noise_level = serializers.FloatField(allow_null=True, help_text="Estimated relative noise of the spectrum.")
    threshold = serializers.FloatField(help_text="Limit the systematic residual was held to.")
    passed = serializers.BooleanField(help_text="verdict == passed.")
    verdict = serializers.ChoiceField(choices=KKVerdict.choices)
    reason = serializers.CharField(help_text="Why the verdict, in a few words.")
    residuals_real = serializers.ListField(child=serializers.FloatField())
    residuals_imag = serializers.ListField(child=serializers.FloatField())
    engine_version = serializers.CharField()


class SpectrumFitSummarySerializer(Serializer):
    id = serializers.IntegerField()
    protocol = serializers.IntegerField(source="protocol_id")
    protocol_name = serializers.CharField(source="protocol.name")
    protocol_version = serializers.IntegerField(source="protocol.version")
    status = serializers.CharField()
    reduced_chi_square = serializers.FloatField(allow_null=True)
    parameters = serializers.DictField(child=serializers.FloatField(allow_null=True))
    stderr = serializers.DictField(child=serializers.FloatField(allow_null=True))


class SpectrumDetailSerializer(CompletenessMixin, SpectrumListSerializer):
    """A spectrum with its arrays, the instrument's metadata, its Kramers–Kronig check, fits and completeness."""

    frequencies_hz = serializers.SerializerMethodField(help_text="Hz, in measurement order.")
    z_real_ohm = serializers.SerializerMethodField(help_text="Z' in Ω.")
    z_imag_ohm = serializers.SerializerMethodField(help_text="Z'' in Ω (capacitive arcs negative).")
    kramers_kronig = serializers.SerializerMethodField()
    fits = serializers.SerializerMethodField(help_text="Fits of this spectrum visible to you.")

    class Meta(SpectrumListSerializer.Meta):
        fields = [
            *SpectrumListSerializer.Meta.fields, "metadata", "kramers_kronig", "fits", "completeness",
            "frequencies_hz", "z_real_ohm", "z_imag_ohm",
        ]  # fmt: skip

    def get_frequencies_hz(self, spectrum) -> list[float]:
        return spectrum.frequencies_hz.tolist()

    def get_z_real_ohm(self, spectrum) -> list[float]:
        return spectrum.impedance_ohm.real.tolist()

    def get_z_imag_ohm(self, spectrum) -> list[float]:
        return spectrum.impedance_ohm.imag.tolist()

    @extend_schema_field(KramersKronigSerializer(allow_null=True))
    def get_kramers_kronig(self, spectrum):
        try:
            check = spectrum.kk_check
        except ImpedanceSpectrum.kk_check.RelatedObjectDoesNotExist:
            return None
        return None if check is None else KramersKronigSerializer(check).data

    @extend_schema_field(SpectrumFitSummarySerializer(many=True))
    def get_fits(self, spectrum):
        fits = getattr(spectrum, "visible_fits", None)
        return SpectrumFitSummarySerializer(fits or [], many=True).data


class RawFileSerializer(ModelSerializer):
    cell = VisibleReferenceIdField(source="cell_id", help_text="Cell id; null when hidden from you.")
    group_name = serializers.CharField(source="group.name", read_only=True)
    download_url = serializers.SerializerMethodField(help_text="Where the original bytes can be downloaded.")

    class Meta:
        model = RawFile
        fields = [
            "id", "original_name", "sha256", "size_bytes", "format", "parser_version", "cell", "group", "group_name",
            "visibility", "embargo_until", "created_at", "download_url",
        ]  # fmt: skip

    def get_download_url(self, raw_file) -> str:
        path = reverse("api:rawfile-download", kwargs={"pk": raw_file.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


@extend_schema_field(OpenApiTypes.OBJECT)
class ConditionsField(serializers.Field):
    """A JSON object, sent as an object (JSON body) or as a JSON string (multipart form field)."""

    # Doubled braces: DRF fills these messages in with str.format.
    default_error_messages = {
        "invalid": 'Must be a JSON object of condition names and values, e.g. {{"temperature_c": 25}}.',
        "nested": "conditions.{key}: must be a number, a text or null, not a list or an object.",
    }

    def to_internal_value(self, data):
        if isinstance(data, (str, bytes)):
            text = data.encode() if isinstance(data, str) else data
            if json_depth(text) > 1:
                self.fail("invalid")  # conditions are flat; deeper text is refused before it is parsed
            try:
                data = json.loads(text)
            except (ValueError, RecursionError):
                self.fail("invalid")
        if not isinstance(data, dict):
            self.fail("invalid")
        for key, value in data.items():
            if isinstance(value, (dict, list)):
                self.fail("nested", key=key)
        reject_nul_characters(data)
        return data

    def to_representation(self, value):
        return value


class OwnershipOverrideSerializer(serializers.Serializer):
    group = serializers.PrimaryKeyRelatedField(
        queryset=ResearchGroup.objects.all(), required=False, help_text="Owning group; default: the cell's."
    )
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False, help_text="Default: the cell's.")
    embargo_until = serializers.DateField(required=False, allow_null=True, help_text="Becomes public on this date.")


class UploadSerializer(OwnershipOverrideSerializer):
    file = serializers.FileField(help_text="One instrument file (Gamry, ZPlot, BioLogic, CHI, …, CSV) or a zip of them.")
    cell = VisiblePrimaryKeyField(selector=visible_cells, help_text="The cell these spectra were measured on (id).")
    conditions = ConditionsField(
        required=False, help_text="Conditions for every spectrum of the upload, e.g. {\"temperature_c\": 25}."
    )
    temperature_c = serializers.FloatField(required=False, help_text="Shortcut for conditions.temperature_c.")
    stack_pressure_mpa = serializers.FloatField(required=False, help_text="Shortcut for conditions.stack_pressure_mpa.")
    atmosphere = serializers.ChoiceField(choices=Atmosphere.choices, required=False)
    cycle_index = serializers.IntegerField(required=False, min_value=0, max_value=MAX_INT32)
    label = serializers.CharField(required=False, max_length=200)
    attach = serializers.BooleanField(
        required=False, default=False,
        help_text="A file the group holds already (a duplicate) is stored as new spectra on this cell, with these "
        "conditions, sharing the stored raw file. Without it a duplicate writes nothing and `message` says where it is.",
    )

    SHORTCUTS = ("temperature_c", "stack_pressure_mpa", "atmosphere", "cycle_index", "label")

    def conditions_dict(self) -> dict:
        conditions = dict(self.validated_data.get("conditions") or {})
        for name in self.SHORTCUTS:
            if name in self.validated_data:
                conditions[name] = self.validated_data[name]
        return conditions


class HeldSpectrumSerializer(serializers.Serializer):
    """A spectrum that holds an uploaded file's bytes already, with links to it and to its cell."""

    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    cell = serializers.IntegerField(source="cell_id")
    cell_url = serializers.SerializerMethodField()

    def _absolute(self, name: str, pk: int) -> str:
        path = reverse(name, kwargs={"pk": pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_url(self, spectrum) -> str:
        return self._absolute("api:spectrum-detail", spectrum.pk)

    def get_cell_url(self, spectrum) -> str:
        return self._absolute("api:cell-detail", spectrum.cell_id)


class ExistingRawFileSerializer(serializers.Serializer):
    raw_file = serializers.IntegerField()
    spectra = HeldSpectrumSerializer(many=True)


class UploadFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    reason = serializers.CharField(
        allow_blank=True,
        help_text="Rejected: why. Duplicate: which spectra and cells hold the file and what was NOT applied. "
        "Accepted with `attach`: that the stored file was attached to the cell.",
    )
    raw_file = serializers.IntegerField(allow_null=True)
    existing = ExistingRawFileSerializer(
        allow_null=True,
        help_text="The group held these bytes already (duplicate, or accepted with `attach`): the raw file and the "
        "spectra that held it before this upload. Null otherwise.",
    )
    spectra = SpectrumListSerializer(many=True)


class UploadResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="Spectra created by this upload.")
    jobs = serializers.SerializerMethodField(help_text="The analysis jobs of the new spectra: poll their `url`.")
    duplicates = serializers.IntegerField(help_text="Files the group already had (their spectra are listed).")
    rejected = serializers.IntegerField(help_text="Files refused, with the reason in `files`.")
    message = serializers.CharField(
        allow_blank=True,
        help_text="Empty when every file was stored as asked; otherwise one line per duplicate or attached file "
        "saying where the bytes are and what of the request was NOT applied.",
    )
    files = UploadFileSerializer(many=True)

    @extend_schema_field(JobSerializer(many=True))
    def get_jobs(self, result):
        return JobSerializer(result["jobs"], many=True, context=self.context).data


class PointListField(serializers.ListField):
    """A list of numbers, one per point, refused by its length (MAX_SPECTRUM_POINTS) before any item is read."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.FloatField(), min_length=5, **kwargs)

    def to_internal_value(self, data):
        limit = settings.MAX_SPECTRUM_POINTS
        if isinstance(data, list) and len(data) > limit:
            raise serializers.ValidationError(
                f"{len(data)} points; at most {limit} are accepted per spectrum (MAX_SPECTRUM_POINTS)."
            )
        return super().to_internal_value(data)


class BulkSpectrumSerializer(serializers.Serializer):
    frequencies_hz = PointListField(help_text="Frequencies in Hz, each at most once (a repeat is refused with its index).")
    z_real_ohm = PointListField()
    z_imag_ohm = PointListField(help_text="Z'' in Ω; capacitive arcs negative.")
    label = serializers.CharField(required=False, max_length=200)
    temperature_c = serializers.FloatField(required=False)
    equilibration_time_min = serializers.FloatField(required=False)
    atmosphere = serializers.ChoiceField(choices=Atmosphere.choices, required=False)
    stack_pressure_mpa = serializers.FloatField(required=False, min_value=0)
    cycle_index = serializers.IntegerField(required=False, min_value=0, max_value=MAX_INT32)
    state_of_charge = serializers.FloatField(required=False, min_value=0, max_value=1)
    elapsed_time_h = serializers.FloatField(required=False)
    dc_bias_v = serializers.FloatField(required=False)
    ac_amplitude_mv = serializers.FloatField(required=False)
    mode = serializers.ChoiceField(choices=ImpedanceSpectrum.Mode.choices, required=False)
    instrument = serializers.CharField(required=False, max_length=120)
    measured_at = serializers.DateTimeField(required=False)
    metadata = serializers.DictField(required=False)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    embargo_until = serializers.DateField(required=False, allow_null=True)


    def validate_metadata(self, metadata):
        reject_nul_characters(metadata)
        return metadata


class BulkCreateSerializer(serializers.Serializer):
    cell = VisiblePrimaryKeyField(selector=visible_cells, help_text="The cell every spectrum belongs to (id).")
    spectra = BulkSpectrumSerializer(many=True, allow_empty=False)


class FitRequestSerializer(serializers.Serializer):
    protocol = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Fit under this protocol (id)."
    )
    circuit = serializers.CharField(
        required=False, max_length=300, help_text="Or fit this circuit (impedance.py syntax), e.g. R0-p(R1,CPE1)."
    )

    def validate(self, attrs):
        if ("protocol" in attrs) == ("circuit" in attrs):
            raise serializers.ValidationError("Give either `protocol` (an id) or `circuit` (a circuit string), not both.")
        return attrs


def electronic_conductivity_reading(dc: DCPolarisation, *, user) -> dict | None:
    """σ_e = L·I_ss/(A·ΔV) (Hebb–Wagner) from the cell's separator thickness and area, with the thickness's
    standard error propagated (σ_e is proportional to L); None with no thickness or area to use, and when `user`
    may not see the separator (σ_e would tell its thickness)."""
    cell = dc.cell
    separator = cell.separator if cell.separator_id else None
    if separator is not None and not can_see(user, separator):
        return None
    area = cell.active_area_cm2 or (separator.area_cm2 if separator else None)
    if separator is None or not separator.thickness_um or not area:
        return None
    try:
        value = eis_derived.electronic_conductivity(separator.thickness_um * 1e-4, area, abs(dc.voltage_v), dc.steady_current_a)
    except ValueError:
        return None
    stderr = value * separator.thickness_stderr_um / separator.thickness_um if separator.thickness_stderr_um else None
    return {"value_s_per_cm": value, "stderr_s_per_cm": stderr, "thickness_um": separator.thickness_um, "area_cm2": area}


class ElectronicConductivitySerializer(serializers.Serializer):
    value_s_per_cm = serializers.FloatField()
    stderr_s_per_cm = serializers.FloatField(allow_null=True, help_text="From the separator thickness's standard error.")
    thickness_um = serializers.FloatField()
    area_cm2 = serializers.FloatField()


class CellMeasurementSerializer(ModelSerializer):
    """Shared fields of a cell's DC polarisation or CCD test; the cell must be one you can see (and write to)."""

    cell = VisiblePrimaryKeyField(selector=visible_cells)
    cell_name = serializers.CharField(source="cell.name", read_only=True)
    group = serializers.PrimaryKeyRelatedField(read_only=True)
    group_name = serializers.CharField(source="group.name", read_only=True)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False, help_text="Default: the cell's.")
    url = serializers.SerializerMethodField()

    OWNED = ["id", "url", "cell", "cell_name", "group", "group_name", "visibility", "embargo_until", "created_at"]

    def get_url(self, record) -> str:
        return reverse(self.detail_route, args=[record.pk])


class DCPolarisationSerializer(CellMeasurementSerializer):
    detail_route = "measurements:dc-polarisation-detail"
    electronic_conductivity = serializers.SerializerMethodField(
        help_text="σ_e = L·I_ss/(A·ΔV), S/cm, from the cell's separator; null when thickness or area is unknown."
    )

    class Meta:
        model = DCPolarisation
        fields = [
            *CellMeasurementSerializer.OWNED, "voltage_v", "steady_current_a", "initial_current_a", "duration_h",
            "temperature_c", "stack_pressure_mpa", "measured_at", "time_s", "current_a", "electronic_conductivity",
        ]  # fmt: skip
        read_only_fields = ["embargo_until", "created_at"]

    @extend_schema_field(ElectronicConductivitySerializer(allow_null=True))
    def get_electronic_conductivity(self, record):
        return electronic_conductivity_reading(record, user=getattr(self.context.get("request"), "user", None))


class CCDStepSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    current_density_ma_per_cm2 = serializers.FloatField()
    half_cycle_duration_h = serializers.FloatField(allow_null=True)
    capacity_per_half_cycle_mah_per_cm2 = serializers.FloatField(allow_null=True)
    failed = serializers.BooleanField()


class CCDTestSerializer(CellMeasurementSerializer):
    detail_route = "measurements:ccd-test-detail"
    steps = CCDStepSerializer(many=True, read_only=True,
                              help_text="Steps up to the failing one, from the protocol; empty when it did not fail.")

    class Meta:
        model = CriticalCurrentDensityTest
        fields = [
            *CellMeasurementSerializer.OWNED, "initial_current_density_ma_per_cm2", "step_ma_per_cm2",
            "capacity_per_half_cycle_mah_per_cm2", "half_cycle_duration_h", "failure_rule", "failure_voltage_limit_v",
            "critical_current_density_ma_per_cm2", "temperature_c", "stack_pressure_mpa", "measured_at", "steps",
        ]  # fmt: skip
        read_only_fields = ["embargo_until", "created_at"]
