"""Releases in the admin: read-only (a release is immutable; retraction goes through the site or the API)."""
from django.contrib import admin

from .models import Release, ReleasedEntry, ReleaseRecord, Retraction


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    list_display = ["title", "group", "dataset_key", "version", "licence", "published_at"]
    list_filter = ["group", "licence"]


@admin.register(ReleaseRecord)
class ReleaseRecordAdmin(ReadOnlyAdmin):
    list_display = ["release", "kind", "object_id", "name"]


@admin.register(ReleasedEntry)
class ReleasedEntryAdmin(ReadOnlyAdmin):
    list_display = ["release", "metric", "value", "unit", "separator", "cell"]


@admin.register(Retraction)
class RetractionAdmin(ReadOnlyAdmin):
    list_display = ["kind", "name", "group", "retracted_at", "reason"]
