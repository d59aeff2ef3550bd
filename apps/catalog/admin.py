from django.contrib import admin

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

OWNED_FILTERS = ["group", "visibility"]


@admin.register(Material)
class MaterialAdmin(admin.ModelAdmin):
    list_display = ["name", "formula", "family"]
    list_filter = ["family"]
    search_fields = ["name", "formula"]


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["doi", "year", "citation"]
    search_fields = ["doi", "citation"]


class SeparatorComponentInline(admin.TabularInline):
    model = SeparatorComponent
    extra = 1
    autocomplete_fields = ["material"]


@admin.register(Separator)
class SeparatorAdmin(admin.ModelAdmin):
    list_display = ["name", "form", "processing_route", "thickness_um", "area_cm2", "relative_density", "group", "visibility"]
    list_filter = ["form", "processing_route", *OWNED_FILTERS, "components__material__family"]
    search_fields = ["name", "description", "components__material__name", "source__doi"]
    inlines = [SeparatorComponentInline]
    autocomplete_fields = ["source"]


@admin.register(Electrode)
class ElectrodeAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "active_material", "is_metal_foil", "areal_loading_mg_per_cm2", "group"]
    list_filter = ["kind", "is_metal_foil", *OWNED_FILTERS]
    search_fields = ["name", "active_material__name"]


class InterfaceEvidenceInline(admin.TabularInline):
    model = InterfaceEvidence
    extra = 1


@admin.register(Interface)
class InterfaceAdmin(admin.ModelAdmin):
    list_display = ["name", "material_a", "material_b", "interlayer_material", "interlayer_thickness_nm", "group"]
    list_filter = [*OWNED_FILTERS, "evidence__technique"]
    search_fields = ["name", "material_a__name", "material_b__name", "interlayer_material__name"]
    inlines = [InterfaceEvidenceInline]


class CellLayerInline(admin.TabularInline):
    model = CellLayer
    extra = 1


class PressureStepInline(admin.TabularInline):
    model = PressureStep
    extra = 1


@admin.register(Cell)
class CellAdmin(admin.ModelAdmin):
    list_display = ["name", "configuration", "housing", "electrode_contact", "separator", "active_area_cm2", "group", "visibility"]
    list_filter = ["configuration", "housing", "electrode_contact", *OWNED_FILTERS]
    search_fields = ["name", "separator__name", "source__doi"]
    inlines = [CellLayerInline, PressureStepInline]
    filter_horizontal = ["interfaces"]
