"""Release and retraction representations for the API (thin: the services decide)."""
from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from apps.accounts.models import ResearchGroup
from apps.common.serializers import ModelSerializer

from .models import RecordKind, Release, ReleasedEntry, ReleaseRecord, Retraction


class AuthorSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    orcid = serializers.CharField(max_length=40, required=False, allow_blank=True,
                                  help_text="ORCID iD, e.g. 0000-0002-1825-0097 (checksum verified).")


class ReleaseRecordSerializer(ModelSerializer):
    retracted = serializers.SerializerMethodField()

    class Meta:
        model = ReleaseRecord
        fields = ["kind", "object_id", "name", "retracted"]

    def get_retracted(self, obj) -> bool:
        return (obj.kind, obj.object_id) in self.context.get("retracted_pairs", set())


class ReleasedEntrySerializer(ModelSerializer):
    class Meta:
        model = ReleasedEntry
        fields = ["id", "entry", "metric", "separator", "cell", "family", "value", "unit", "stderr", "ci_low",
                  "ci_high", "temperature_c", "stack_pressure_mpa", "thickness_um", "method", "protocol_label",
                  "completeness_score", "missing_items", "flags", "blocking", "computed_at"]


class ReleaseSerializer(ModelSerializer):
    label = serializers.CharField(read_only=True)
    group_name = serializers.CharField(source="group.name", read_only=True)
    archive_url = serializers.SerializerMethodField()
    landing_url = serializers.SerializerMethodField()
    authors = AuthorSerializer(many=True)

    class Meta:
        model = Release
        fields = ["id", "label", "group", "group_name", "dataset_key", "version", "title", "description", "authors",
                  "licence", "source_dois", "citation", "published_at", "archive_url", "archive_sha256",
                  "archive_size_bytes", "landing_url"]

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_archive_url(self, obj) -> str:
        return self._absolute(reverse("api:release-archive", args=[obj.pk])) if obj.archive else ""

    def get_landing_url(self, obj) -> str:
        return self._absolute(reverse("releases:detail", args=[obj.pk]))


class ReleaseDetailSerializer(ReleaseSerializer):
    records = ReleaseRecordSerializer(many=True, read_only=True)
    entries = ReleasedEntrySerializer(many=True, read_only=True)

    class Meta(ReleaseSerializer.Meta):
        fields = [*ReleaseSerializer.Meta.fields, "manifest", "records", "entries"]


class ReleaseCreateSerializer(serializers.Serializer):
    group = serializers.PrimaryKeyRelatedField(queryset=ResearchGroup.objects.all())
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    authors = AuthorSerializer(many=True)
    licence = serializers.CharField(max_length=60, required=False, default="CC-BY-4.0",
                                    help_text="SPDX licence identifier.")
    source_dois = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)
    separators = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)
    cells = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)
    spectra = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)
    previous = serializers.PrimaryKeyRelatedField(queryset=Release.objects.all(), required=False, allow_null=True,
                                                  help_text="A release of the same dataset: publish its next version.")


class RetractionSerializer(ModelSerializer):
    kind = serializers.ChoiceField(choices=RecordKind.choices)
    reason = serializers.CharField(allow_blank=True, help_text="Why the record is retracted (required).")
    retracted_by = serializers.CharField(source="retracted_by.get_username", read_only=True, default="")

    class Meta:
        model = Retraction
        fields = ["id", "kind", "object_id", "name", "group", "reason", "retracted_by", "retracted_at"]
        read_only_fields = ["name", "group", "retracted_at"]
