from django.contrib import admin

from .models import BenchmarkEntry, LiteratureValue


@admin.register(BenchmarkEntry)
class BenchmarkEntryAdmin(admin.ModelAdmin):
    list_display = ["metric", "separator", "cell", "value", "stderr", "unit", "completeness_score", "blocking"]
    list_filter = ["metric", "blocking"]
    search_fields = ["separator__name", "cell__name"]


@admin.register(LiteratureValue)
class LiteratureValueAdmin(admin.ModelAdmin):
    list_display = ["composition", "family", "conductivity_s_per_cm", "doi", "dataset"]
    list_filter = ["family", "dataset"]
    search_fields = ["composition", "doi", "family_reported"]
