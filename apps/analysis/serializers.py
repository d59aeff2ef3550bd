"""API representations of fit protocols, fits, conductivities, Arrhenius fits and jobs."""
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.models import ResearchGroup
from apps.accounts.serializers import VisibleReferenceIdField
from apps.catalog.models import Cell
from apps.common.serializers import FlagsField, ModelSerializer
from apps.jobs.models import Job

from . import protocol_bounds
from .models import ArrheniusFit, Conductivity, ElementRole, FitProtocol, FitResult, Weighting
from .selectors import job_params_shown, job_result_shown


class BoundNoteSerializer(serializers.Serializer):
    parameter = serializers.CharField()
    low = serializers.FloatField()
    high = serializers.FloatField()
    low_kind = serializers.ChoiceField(choices=protocol_bounds.BOUND_KINDS)
    high_kind = serializers.ChoiceField(choices=protocol_bounds.BOUND_KINDS)
    reason = serializers.CharField()


class FitProtocolSerializer(ModelSerializer):
    group = serializers.PrimaryKeyRelatedField(
        queryset=ResearchGroup.objects.all(),
        allow_null=True,
        help_text="Owning group (you must be a member); null for the shipped standard protocols.",
    )
    element_roles = serializers.DictField(
        child=serializers.ChoiceField(choices=ElementRole.choices),
        required=False,
        help_text='Which element means what, e.g. {"R1": "bulk", "CPE1": "bulk", "R2": "grain_boundary"}.',
    )
    bounds = serializers.DictField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        required=False,
        help_text='Parameter bounds, e.g. {"R1": [1e-3, 1e9]}.',
    )
    weighting = serializers.ChoiceField(choices=Weighting.choices, default=Weighting.MODULUS)
    applies_to = serializers.ListField(
        child=serializers.ChoiceField(choices=Cell.Configuration.choices),
        required=False,
        help_text="Cell configurations this protocol is meant for.",
    )

    bound_notes = serializers.SerializerMethodField(
        help_text="Per bounded parameter: low, high, whether each side is a physical limit or a search range "
                  "(low_kind/high_kind), and why. A search-range bound that holds a standard fit is released.",
    )

    @extend_schema_field(BoundNoteSerializer(many=True))
    def get_bound_notes(self, protocol) -> list[dict]:
        return protocol_bounds.bound_notes(
            circuit=protocol.circuit, bounds=protocol.bounds or {}, name=protocol.name, is_standard=protocol.is_standard,
        )

    def validate_group(self, group):
        if group is None:
            raise serializers.ValidationError(
                "Give the id of one of your groups: standard protocols are shipped, not created."
            )
        return group

    class Meta:
        model = FitProtocol
        fields = [
            "id", "name", "version", "description", "circuit", "weighting", "frequency_min_hz", "frequency_max_hz",
            "bounds", "bound_notes", "element_roles", "is_standard", "applies_to", "group", "created_at",
        ]  # fmt: skip
        read_only_fields = ["version", "is_standard", "created_at", "bound_notes"]
        extra_kwargs = {"name": {"validators": []}}
        validators: list = []  # the service says what to do with a taken name (make a new version)


class FitResultSerializer(ModelSerializer):
    spectrum_label = serializers.CharField(source="spectrum.label", read_only=True)
    cell = serializers.IntegerField(source="spectrum.cell_id", read_only=True)
    temperature_c = serializers.FloatField(source="spectrum.temperature_c", read_only=True, allow_null=True)
    protocol_name = serializers.CharField(source="protocol.name", read_only=True)
    protocol_version = serializers.IntegerField(source="protocol.version", read_only=True)
    circuit = serializers.CharField(source="protocol.circuit", read_only=True)
    flags = FlagsField()

    class Meta:
        model = FitResult
        fields = [
            "id", "spectrum", "spectrum_label", "cell", "temperature_c", "protocol", "protocol_name",
            "protocol_version", "circuit", "status", "error", "parameters", "stderr", "chi_square",
            "reduced_chi_square", "converged", "derived", "flags", "engine_version", "created_at", "updated_at",
        ]  # fmt: skip


class FitResultDetailSerializer(FitResultSerializer):
    class Meta(FitResultSerializer.Meta):
        fields = [*FitResultSerializer.Meta.fields, "correlations", "residuals_real", "residuals_imag"]


class ConductivitySerializer(ModelSerializer):
    cell = serializers.IntegerField(source="spectrum.cell_id", read_only=True)
    separator = VisibleReferenceIdField(source="spectrum.cell.separator_id", help_text="Separator id; null when hidden.")
    protocol = serializers.IntegerField(source="fit.protocol_id", read_only=True)
    protocol_name = serializers.CharField(source="fit.protocol.name", read_only=True)
    protocol_version = serializers.IntegerField(source="fit.protocol.version", read_only=True)

    class Meta:
        model = Conductivity
        fields = [
            "id", "fit", "spectrum", "cell", "separator", "protocol", "protocol_name", "protocol_version", "kind",
            "resistance_ohm", "resistance_stderr_ohm", "conductivity_s_per_cm", "conductivity_stderr_s_per_cm",
            "temperature_c", "thickness_um", "area_cm2",
        ]  # fmt: skip


class ArrheniusFitSerializer(ModelSerializer):
    separator_name = serializers.CharField(source="separator.name", read_only=True)
    protocol_name = serializers.CharField(source="protocol.name", read_only=True)
    protocol_version = serializers.IntegerField(source="protocol.version", read_only=True)
    sigma_25c_stderr_s_per_cm = serializers.FloatField(
        read_only=True, allow_null=True,
        help_text="Standard error of σ(25 °C), S/cm, from its 95 % interval (symmetric in ln σ, n − 2 dof).",
    )

    class Meta:
        model = ArrheniusFit
        fields = [
            "id", "separator", "separator_name", "protocol", "protocol_name", "protocol_version", "kind", "form",
            "activation_energy_ev", "activation_energy_stderr_ev", "prefactor", "vtf_b_k", "vtf_t0_k",
            "sigma_25c_s_per_cm", "sigma_25c_stderr_s_per_cm", "sigma_25c_ci_low_s_per_cm",
            "sigma_25c_ci_high_s_per_cm", "temperature_min_c", "temperature_max_c", "n_points", "r_squared", "extrapolated_25c", "points", "engine_version",
            "updated_at",
        ]  # fmt: skip


class JobProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(source="progress_done")
    total = serializers.IntegerField(source="progress_total")
    fraction = serializers.FloatField(source="progress_fraction", help_text="done / total, 0–1.")


class JobSerializer(ModelSerializer):
    """A job as its viewer may see it: its target named only when the viewer may see the target
    (`visible_jobs` annotates what to show; a job just queued by the viewer is about a record they see)."""

    progress = JobProgressSerializer(source="*", read_only=True)
    target_id = serializers.SerializerMethodField(help_text="The target record's id; null when hidden from you.")
    target_label = serializers.SerializerMethodField(help_text='"private record" when the target is hidden from you.')
    params = serializers.SerializerMethodField(help_text="Parameters; `spectrum_ids` lists the spectra you may see.")
    error = serializers.SerializerMethodField(help_text="Why it failed; a fixed sentence when the target is hidden from you.")
    result = serializers.SerializerMethodField(help_text="Summary of what it produced; empty when the target is hidden from you.")
    is_finished = serializers.BooleanField(read_only=True)
    duration_s = serializers.SerializerMethodField(help_text="Run time so far (or in all), s; null before it starts.")
    url = serializers.SerializerMethodField(help_text="Poll this URL for the state.")

    class Meta:
        model = Job
        fields = [
            "id", "url", "kind", "state", "is_finished", "target_type", "target_id", "target_label", "params",
            "progress", "error", "result", "attempts", "parent", "group", "created_at", "started_at",
            "finished_at", "duration_s",
        ]  # fmt: skip

    def get_target_id(self, job) -> int | None:
        return getattr(job, "shown_target_id", job.target_id)

    def get_target_label(self, job) -> str:
        return getattr(job, "shown_target_label", job.target_label)

    def get_error(self, job) -> str:
        return getattr(job, "shown_error", job.error)

    def get_result(self, job) -> dict:
        return job_result_shown(job)

    def get_params(self, job) -> dict:
        return job_params_shown(job, user=getattr(self.context.get("request"), "user", None))

    def get_duration_s(self, job) -> float | None:
        if job.started_at is None:
            return None
        from django.utils import timezone

        end = job.finished_at or timezone.now()
        return round((end - job.started_at).total_seconds(), 3)

    def get_url(self, job) -> str:
        path = reverse("api:job-detail", kwargs={"pk": job.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class JobAcceptedSerializer(serializers.Serializer):
    job = JobSerializer()
    job_url = serializers.CharField(help_text="Poll until `job.is_finished`.")
