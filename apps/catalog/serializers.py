"""API representations of catalog records: materials, sources, separators, electrodes, interfaces, cells.

One serializer per record reads and writes it; writes are validated here for
shape and types, then handed to `apps.catalog.services` (which owns the rules).
"""
from rest_framework import serializers

from apps.accounts.serializers import OwnershipFieldsMixin, VisibleRelatedKeyField
from apps.common.serializers import CompletenessMixin, ModelSerializer

from .models import (
    Cell,
    CellLayer,
    Electrode,
    Interface,
    InterfaceEvidence,
    Material,
    PressureStep,
    Separator,
    SeparatorComponent,
    Source,
)
from .selectors import visible_electrodes, visible_interfaces, visible_separators

OWNED_FIELDS = ["group", "group_name", "visibility", "embargo_until", "created_at", "updated_at"]


class MaterialSerializer(ModelSerializer):
    class Meta:
        model = Material
        fields = ["id", "name", "formula", "family", "description"]
        extra_kwargs = {"name": {"validators": []}}  # an existing name is returned, not refused


class SourceSerializer(ModelSerializer):
    class Meta:
        model = Source
        fields = ["id", "doi", "citation", "year", "url"]
        extra_kwargs = {
            "doi": {
                "validators": [], "allow_null": False, "required": True,
                "help_text": "e.g. 10.1021/acs.chemmater.0c01234",
            }
        }


class SeparatorComponentSerializer(ModelSerializer):
    material = serializers.PrimaryKeyRelatedField(queryset=Material.objects.all(), help_text="Material id.")
    material_name = serializers.CharField(source="material.name", read_only=True)
    material_formula = serializers.CharField(source="material.formula", read_only=True)
    material_family = serializers.CharField(source="material.family", read_only=True)

    class Meta:
        model = SeparatorComponent
        fields = [
            "material", "material_name", "material_formula", "material_family", "role", "fraction", "fraction_basis",
        ]  # fmt: skip


class SeparatorSerializer(OwnershipFieldsMixin, ModelSerializer):
    components = SeparatorComponentSerializer(many=True, required=False)
    source_doi = serializers.CharField(source="source.doi", read_only=True, allow_null=True)
    porosity = serializers.FloatField(read_only=True, allow_null=True)
    family = serializers.SerializerMethodField(help_text="Family of the fast-ion phase (else the first component).")

    class Meta:
        model = Separator
        fields = [
            "id", "name", "description", *OWNED_FIELDS, "source", "source_doi", "form", "family", "components",
            "processing_route", "densification_pressure_mpa", "densification_temperature_c",
            "densification_hold_time_min", "sintering_temperature_c", "sintering_time_h", "processing_atmosphere",
            "processing_notes", "thickness_um", "thickness_stderr_um", "thickness_method", "thickness_measured_when",
            "area_cm2", "relative_density", "porosity", "inorganic_volume_fraction", "infiltration_method",
        ]  # fmt: skip

    def get_family(self, separator) -> str | None:
        material = separator.primary_material
        return material.family if material is not None else None


class ElectrodeSerializer(OwnershipFieldsMixin, ModelSerializer):
    active_material_name = serializers.CharField(source="active_material.name", read_only=True, allow_null=True)

    class Meta:
        model = Electrode
        fields = [
            "id", "name", *OWNED_FIELDS, "kind", "active_material", "active_material_name", "is_metal_foil",
            "electrolyte_fraction", "carbon_fraction", "areal_loading_mg_per_cm2", "thickness_um",
        ]  # fmt: skip


class InterfaceEvidenceSerializer(ModelSerializer):
    cross_validated = serializers.SerializerMethodField(
        help_text="True when this assignment is backed by two or more independent techniques."
    )

    class Meta:
        model = InterfaceEvidence
        fields = [
            "id", "technique", "assigned_species", "termination", "measured_value", "computed_value", "value_unit",
            "notes", "source", "cross_validated",
        ]  # fmt: skip
        read_only_fields = ["id"]

    def get_cross_validated(self, evidence) -> bool:
        return evidence.cross_validated


class InterfaceSerializer(OwnershipFieldsMixin, ModelSerializer):
    evidence = InterfaceEvidenceSerializer(many=True, required=False)
    material_a_name = serializers.CharField(source="material_a.name", read_only=True)
    material_b_name = serializers.CharField(source="material_b.name", read_only=True)
    interlayer_material_name = serializers.CharField(source="interlayer_material.name", read_only=True, allow_null=True)
    source_doi = serializers.CharField(source="source.doi", read_only=True, allow_null=True)
    cross_validated_assignments = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Species assigned by two or more techniques."
    )

    class Meta:
        model = Interface
        fields = [
            "id", "name", *OWNED_FIELDS, "material_a", "material_a_name", "material_b", "material_b_name",
            "interlayer_material", "interlayer_material_name", "interlayer_thickness_nm", "coating_method",
            "polishing", "heat_treatment_temperature_c", "heat_treatment_time_min", "preparation_atmosphere",
            "preparation_notes", "source", "source_doi", "evidence", "cross_validated_assignments",
        ]  # fmt: skip


class CellLayerSerializer(ModelSerializer):
    separator = VisibleRelatedKeyField(selector=visible_separators, required=False, allow_null=True)
    electrode = VisibleRelatedKeyField(selector=visible_electrodes, required=False, allow_null=True)

    class Meta:
        model = CellLayer
        fields = ["position", "kind", "separator", "electrode", "material", "thickness_um", "description"]
        read_only_fields = ["position"]


class PressureStepSerializer(ModelSerializer):
    class Meta:
        model = PressureStep
        fields = ["position", "phase", "pressure_mpa", "duration_min", "temperature_c", "notes"]
        read_only_fields = ["position"]


class CellSerializer(OwnershipFieldsMixin, ModelSerializer):
    separator = VisibleRelatedKeyField(
        selector=visible_separators, required=False, allow_null=True, help_text="Separator id; null when hidden from you."
    )
    interfaces = VisibleRelatedKeyField(
        selector=visible_interfaces, many=True, required=False, help_text="Interface ids; those hidden from you left out."
    )
    layers = CellLayerSerializer(many=True, required=False, help_text="Bottom (position 0) to top.")
    pressure_steps = PressureStepSerializer(
        many=True, required=False, help_text="Stack-pressure history, densification first, measurement last."
    )
    measurement_pressure_mpa = serializers.FloatField(read_only=True, allow_null=True)
    # No annotation only when the cell itself is hidden from the writer, so none of its spectra are visible.
    n_spectra = serializers.IntegerField(read_only=True, default=0, help_text="Spectra of this cell visible to you.")
    source_doi = serializers.CharField(source="source.doi", read_only=True, allow_null=True)
    publish_references = serializers.BooleanField(
        write_only=True, required=False, default=False,
        help_text="Publish the separator, electrodes and interfaces this cell would otherwise be more visible than "
        "(without it, such a write answers 400 naming them).",
    )

    class Meta:
        model = Cell
        fields = [
            "id", "name", *OWNED_FIELDS, "configuration", "housing", "electrode_contact", "separator", "interfaces",
            "active_area_cm2", "lead_resistance_ohm", "assembled_on", "source", "source_doi", "notes", "layers",
            "pressure_steps",
            "measurement_pressure_mpa", "n_spectra", "publish_references",
        ]  # fmt: skip


class SeparatorDetailSerializer(CompletenessMixin, SeparatorSerializer):
    class Meta(SeparatorSerializer.Meta):
        fields = [*SeparatorSerializer.Meta.fields, "completeness"]


class CellDetailSerializer(CompletenessMixin, CellSerializer):
    class Meta(CellSerializer.Meta):
        fields = [*CellSerializer.Meta.fields, "completeness"]
