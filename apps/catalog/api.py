"""API viewsets of the catalog. Reads come from the selectors, writes go through the services."""
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.permissions import require_group_member
from apps.accounts.record_api import RecordDeleteMixin, RecordHistoryMixin
from apps.common.api import ApiViewMixin, ExportMixin, export_schema
from apps.common.rounding import VALUE
from apps.measurements.selectors import visible_spectra_to_show, visible_spectrum_count_of_cell
from apps.measurements.serializers import SpectrumListSerializer

from . import services
from .filters import (
    CellFilterSet,
    ElectrodeFilterSet,
    InterfaceFilterSet,
    MaterialFilterSet,
    SeparatorFilterSet,
    SourceFilterSet,
)
from .models import Material, Source
from .selectors import (
    all_materials,
    all_sources,
    visible_cells,
    visible_electrodes,
    visible_interfaces,
    visible_separators,
)
from .serializers import (
    CellDetailSerializer,
    CellSerializer,
    ElectrodeSerializer,
    InterfaceSerializer,
    MaterialSerializer,
    SeparatorDetailSerializer,
    SeparatorSerializer,
    SourceSerializer,
)

WRITE_METHODS = ["get", "post", "put", "patch", "delete", "head", "options"]
OWNED_ORDERING = ["name", "created_at", "updated_at", "pk"]

SEPARATOR_EXAMPLE = {
    "name": "LLZTO pellet, 1150 °C",
    "group": 1,
    "visibility": "group",
    "form": "pellet",
    "processing_route": "sintering",
    "densification_pressure_mpa": 300,
    "sintering_temperature_c": 1150,
    "sintering_time_h": 12,
    "thickness_um": 800,
    "thickness_method": "micrometer",
    "area_cm2": 0.785,
    "relative_density": 0.95,
    "components": [{"material": 1, "role": "fast_ion_phase", "fraction": 1.0, "fraction_basis": "weight"}],
}
CELL_EXAMPLE = {
    "name": "Au|LLZTO|Au #3",
    "group": 1,
    "configuration": "blocking",
    "housing": "die",
    "electrode_contact": "au",
    "separator": 4,
    "active_area_cm2": 0.785,
    "layers": [
        {"kind": "current_collector", "description": "Au sputtered"},
        {"kind": "separator", "separator": 4},
        {"kind": "current_collector", "description": "Au sputtered"},
    ],
    "pressure_steps": [
        {"phase": "densification", "pressure_mpa": 375, "duration_min": 5},
        {"phase": "measurement", "pressure_mpa": 10, "temperature_c": 25},
    ],
}


def _nested(items) -> list[dict]:
    return [dict(item) for item in items]


class OwnedRecordViewSet(RecordHistoryMixin, RecordDeleteMixin, ApiViewMixin, ExportMixin, viewsets.ModelViewSet):
    """List, read, create, update and delete an owned record; the group given on create must be one of yours.

    Deleting takes what hangs on the record with it and is refused for a released record (retract it instead).

    Each subclass names its catalog service in `create_record(user=, group=, data=)` and
    `update_record(record, user=, data=)`.
    """

    http_method_names = WRITE_METHODS
    ordering_fields = OWNED_ORDERING

    def reread(self, record):
        """The record as the list shows it (annotated, prefetched), after a write.

        A writer who just made the record private to others (a member who is not
        its uploader) no longer sees it through the selector: answer with what was saved.
        """
        return self.get_queryset().filter(pk=record.pk).first() or record

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        group = data.pop("group")
        require_group_member(self.request.user, group)
        serializer.instance = self.reread(self.create_record(user=self.request.user, group=group, data=data))

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        if "group" in data and data["group"] != serializer.instance.group:
            require_group_member(self.request.user, data["group"])
        serializer.instance = self.reread(self.update_record(serializer.instance, user=self.request.user, data=data))



@extend_schema_view(
    list=extend_schema(summary="List materials", description="Shared reference data: every user sees every material."),
    retrieve=extend_schema(summary="One material"),
    create=extend_schema(
        summary="Add a material (or get the existing one)",
        description="A material with the same name (case-insensitive) is returned instead of duplicated (200).",
        responses={201: MaterialSerializer, 200: MaterialSerializer},
        examples=[
            OpenApiExample("LLZTO", value={"name": "LLZTO", "formula": "Li6.4La3Zr1.4Ta0.6O12", "family": "garnet"})
        ],
    ),
)
class MaterialViewSet(ApiViewMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = MaterialSerializer
    filterset_class = MaterialFilterSet
    search_fields = ["name", "formula", "description"]
    ordering_fields = ["name", "family", "pk"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return all_materials()

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        existed = Material.objects.filter(name__iexact=serializer.validated_data["name"].strip()).exists()
        material = services.get_or_create_material(**serializer.validated_data)
        return Response(
            self.get_serializer(material).data, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        )


@extend_schema_view(
    list=extend_schema(summary="List literature sources", description="Papers and datasets records come from."),
    retrieve=extend_schema(summary="One source"),
    create=extend_schema(
        summary="Add a source by DOI (or get the existing one)",
        description="Any DOI spelling is accepted (doi:…, https://doi.org/…); an existing DOI answers 200.",
        responses={201: SourceSerializer, 200: SourceSerializer},
        examples=[OpenApiExample("Paper", value={"doi": "10.1021/acs.chemmater.6b00579", "year": 2016})],
    ),
)
class SourceViewSet(ApiViewMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = SourceSerializer
    filterset_class = SourceFilterSet
    search_fields = ["doi", "citation"]
    ordering_fields = ["year", "doi", "pk"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return all_sources()

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = {key: value for key, value in serializer.validated_data.items() if value is not None}
        existed = Source.objects.filter(doi=services.normalise_doi(data["doi"])).exists()
        source = services.get_or_create_source(**data)
        return Response(
            self.get_serializer(source).data, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        )


@extend_schema_view(
    list=extend_schema(
        summary="List separators",
        description="Electrolyte layers visible to you, with their components. Filter by family, processing route, "
        "thickness, densification pressure, group, DOI, completeness and creation date.",
    ),
    retrieve=extend_schema(
        summary="One separator, with components",
        description="With its reporting-completeness score and the items not reported.",
    ),
    create=extend_schema(
        summary="Create a separator",
        description="`group` must be one of your groups. `components` lists material id, role and fraction.",
        examples=[OpenApiExample("Sintered LLZTO pellet", value=SEPARATOR_EXAMPLE, request_only=True)],
    ),
    update=extend_schema(summary="Replace a separator", description="Members of the owning group only."),
    partial_update=extend_schema(
        summary="Change some fields of a separator",
        description="`components`, when given, replaces every component. Thickness or area changes re-run analysis.",
    ),
    export=export_schema(SeparatorSerializer, "separators"),
)
class SeparatorViewSet(OwnedRecordViewSet):
    serializer_class = SeparatorSerializer
    filterset_class = SeparatorFilterSet
    search_fields = [
        "name", "description", "components__material__name", "components__material__formula", "source__doi",
    ]  # fmt: skip
    ordering_fields = [*OWNED_ORDERING, "thickness_um", "area_cm2", "relative_density", "densification_pressure_mpa"]
    export_filename = "separators"
    export_uncertainties = {"thickness_stderr_um": {"thickness_um": VALUE}}

    def get_queryset(self):
        return visible_separators(user=self.request.user)

    def get_serializer_class(self):
        return SeparatorDetailSerializer if self.action == "retrieve" else SeparatorSerializer

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        # Search across components joins a many-valued relation: keep each separator once.
        return queryset.distinct() if self.request.query_params.get("search") else queryset

    def create_record(self, *, user, group, data):
        components = _nested(data.pop("components", []))
        return services.create_separator(user=user, group=group, components=components, **data)

    def update_record(self, record, *, user, data):
        if "components" in data:
            data["components"] = _nested(data["components"])
        return services.update_separator(separator=record, user=user, **data)


@extend_schema_view(
    list=extend_schema(summary="List electrodes"),
    retrieve=extend_schema(summary="One electrode"),
    create=extend_schema(
        summary="Create an electrode",
        examples=[
            OpenApiExample(
                "Li foil", value={"name": "Li foil 50 µm", "group": 1, "kind": "anode", "is_metal_foil": True,
                                  "thickness_um": 50}, request_only=True,
            )
        ],
    ),
    update=extend_schema(summary="Replace an electrode"),
    partial_update=extend_schema(summary="Change some fields of an electrode"),
    export=export_schema(ElectrodeSerializer, "electrodes"),
)
class ElectrodeViewSet(OwnedRecordViewSet):
    serializer_class = ElectrodeSerializer
    filterset_class = ElectrodeFilterSet
    search_fields = ["name", "active_material__name", "active_material__formula"]
    ordering_fields = [*OWNED_ORDERING, "thickness_um", "areal_loading_mg_per_cm2"]
    export_filename = "electrodes"

    def get_queryset(self):
        return visible_electrodes(user=self.request.user)

    def create_record(self, *, user, group, data):
        return services.create_electrode(user=user, group=group, **data)

    def update_record(self, record, *, user, data):
        return services.update_electrode(electrode=record, user=user, **data)


@extend_schema_view(
    list=extend_schema(
        summary="List interfaces",
        description="Interfaces with their characterisation evidence; an assignment backed by two independent "
        "techniques is marked `cross_validated`.",
    ),
    retrieve=extend_schema(summary="One interface, with its evidence"),
    create=extend_schema(
        summary="Create an interface with its evidence",
        examples=[
            OpenApiExample(
                "Li|LLZTO with Li2CO3",
                value={
                    "name": "Li|LLZTO, polished", "group": 1, "material_a": 2, "material_b": 1,
                    "polishing": "SiC 1200 grit, Ar glovebox",
                    "evidence": [
                        {"technique": "xps", "assigned_species": "Li2CO3", "measured_value": 290.1, "value_unit": "eV"},
                        {"technique": "tof_sims", "assigned_species": "Li2CO3"},
                    ],
                },
                request_only=True,
            )
        ],
    ),
    update=extend_schema(summary="Replace an interface"),
    partial_update=extend_schema(summary="Change some fields of an interface", description="`evidence` replaces all."),
    export=export_schema(InterfaceSerializer, "interfaces"),
)
class InterfaceViewSet(OwnedRecordViewSet):
    serializer_class = InterfaceSerializer
    filterset_class = InterfaceFilterSet
    search_fields = ["name", "material_a__name", "material_b__name", "interlayer_material__name", "coating_method"]
    ordering_fields = [*OWNED_ORDERING, "interlayer_thickness_nm"]
    export_filename = "interfaces"

    def get_queryset(self):
        return visible_interfaces(user=self.request.user)

    def create_record(self, *, user, group, data):
        evidence = _nested(data.pop("evidence", []))
        return services.create_interface(user=user, group=group, evidence=evidence, **data)

    def update_record(self, record, *, user, data):
        if "evidence" in data:
            data["evidence"] = _nested(data["evidence"])
        return services.update_interface(interface=record, user=user, **data)


@extend_schema_view(
    list=extend_schema(
        summary="List cells",
        description="Cells with their layer stack, stack-pressure history and the number of their spectra you can see.",
    ),
    retrieve=extend_schema(
        summary="One cell, with layers and pressure history",
        description="With its reporting-completeness score and the items not reported.",
    ),
    create=extend_schema(
        summary="Create a cell",
        description="Layers bottom first; pressure steps in the order they happened, measurement last.",
        examples=[OpenApiExample("Blocking pellet cell", value=CELL_EXAMPLE, request_only=True)],
    ),
    update=extend_schema(summary="Replace a cell"),
    partial_update=extend_schema(
        summary="Change some fields of a cell",
        description="`layers`, `pressure_steps`, `interfaces`, when given, each replace the old set.",
    ),
    export=export_schema(CellSerializer, "cells"),
)
class CellViewSet(OwnedRecordViewSet):
    serializer_class = CellSerializer
    filterset_class = CellFilterSet
    search_fields = ["name", "notes", "separator__name", "source__doi"]
    ordering_fields = [*OWNED_ORDERING, "configuration", "active_area_cm2", "assembled_on", "n_spectra"]
    export_filename = "cells"

    def get_queryset(self):
        return visible_cells(user=self.request.user).annotate(
            n_spectra=visible_spectrum_count_of_cell(user=self.request.user)
        )

    def get_serializer_class(self):
        return CellDetailSerializer if self.action == "retrieve" else CellSerializer

    def create_record(self, *, user, group, data):
        layers = _nested(data.pop("layers", []))
        steps = _nested(data.pop("pressure_steps", []))
        interfaces = data.pop("interfaces", [])
        return services.create_cell(
            user=user, group=group, layers=layers, pressure_steps=steps, interfaces=interfaces, **data
        )

    def update_record(self, record, *, user, data):
        for name in ("layers", "pressure_steps"):
            if name in data:
                data[name] = _nested(data[name])
        return services.update_cell(cell=record, user=user, **data)

    @extend_schema(
        summary="Spectra of a cell",
        description="The cell's spectra that you can see (hidden or embargoed ones are left out), without arrays.",
        responses={200: SpectrumListSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], filterset_class=None, search_fields=[], ordering_fields=["pk"])
    def spectra(self, request, pk=None):
        cell = self.get_object()
        queryset = visible_spectra_to_show(user=request.user).filter(cell=cell).order_by("index_in_file", "pk")
        page = self.paginate_queryset(queryset)
        rows = SpectrumListSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(rows)
