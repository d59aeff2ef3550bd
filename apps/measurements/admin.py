from django.contrib import admin

from .models import CriticalCurrentDensityTest, DCPolarisation, ImpedanceSpectrum, RawFile


@admin.register(RawFile)
class RawFileAdmin(admin.ModelAdmin):
    list_display = ["original_name", "format", "size_bytes", "sha256", "group", "created_at"]
    list_filter = ["format", "group"]
    search_fields = ["original_name", "sha256"]
    readonly_fields = ["sha256", "size_bytes", "parser_version"]


@admin.register(ImpedanceSpectrum)
class ImpedanceSpectrumAdmin(admin.ModelAdmin):
    list_display = ["__str__", "temperature_c", "stack_pressure_mpa", "n_points", "frequency_min_hz", "frequency_max_hz", "group", "visibility"]
    list_filter = ["atmosphere", "mode", "group", "visibility", "cell__configuration"]
    search_fields = ["label", "cell__name", "instrument", "raw_file__original_name"]
    exclude = ["data", "frequency_grid"]
    readonly_fields = ["n_points", "frequency_min_hz", "frequency_max_hz"]
    list_select_related = ["cell"]


@admin.register(DCPolarisation)
class DCPolarisationAdmin(admin.ModelAdmin):
    list_display = ["cell", "voltage_v", "steady_current_a", "temperature_c", "group"]
    search_fields = ["cell__name"]


@admin.register(CriticalCurrentDensityTest)
class CriticalCurrentDensityTestAdmin(admin.ModelAdmin):
    list_display = ["cell", "critical_current_density_ma_per_cm2", "step_ma_per_cm2", "capacity_per_half_cycle_mah_per_cm2", "failure_rule"]
    list_filter = ["failure_rule"]
    search_fields = ["cell__name"]
