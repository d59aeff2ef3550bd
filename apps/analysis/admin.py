from django.contrib import admin

from .models import ArrheniusFit, Conductivity, FitProtocol, FitResult, KramersKronigCheck


@admin.register(FitProtocol)
class FitProtocolAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "circuit", "weighting", "is_standard", "created_at"]
    list_filter = ["is_standard", "weighting"]
    search_fields = ["name", "circuit"]

    def get_readonly_fields(self, request, obj=None):
        # A protocol that has fits is immutable: a change is a new version (services.create_protocol_version).
        if obj is not None and obj.fits.exists():
            return [field.name for field in obj._meta.fields]
        return super().get_readonly_fields(request, obj)


@admin.register(FitResult)
class FitResultAdmin(admin.ModelAdmin):
    list_display = ["spectrum", "protocol", "status", "chi_square", "converged", "engine_version", "updated_at"]
    list_filter = ["status", "converged", "protocol"]
    search_fields = ["spectrum__label", "spectrum__cell__name"]
    raw_id_fields = ["spectrum"]


@admin.register(KramersKronigCheck)
class KramersKronigCheckAdmin(admin.ModelAdmin):
    list_display = ["spectrum", "passed", "n_elements", "mu", "max_abs_residual"]
    list_filter = ["passed"]
    raw_id_fields = ["spectrum"]


@admin.register(Conductivity)
class ConductivityAdmin(admin.ModelAdmin):
    list_display = ["spectrum", "kind", "conductivity_s_per_cm", "conductivity_stderr_s_per_cm", "temperature_c"]
    list_filter = ["kind"]
    raw_id_fields = ["spectrum", "fit"]


@admin.register(ArrheniusFit)
class ArrheniusFitAdmin(admin.ModelAdmin):
    list_display = ["separator", "kind", "form", "activation_energy_ev", "activation_energy_stderr_ev", "sigma_25c_s_per_cm"]
    list_filter = ["kind", "form"]
