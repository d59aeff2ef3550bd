"""API representations of benchmark entries and published literature values."""
from rest_framework import serializers

from apps.accounts.references import can_see
from apps.accounts.serializers import VisibleReferenceIdField, VisibleReferenceNameField
from apps.common.serializers import FlagsField, ModelSerializer

from .models import IDS_IN_DETAILS, BenchmarkEntry, LiteratureValue
from .selectors import details_for_viewer


class BenchmarkEntrySerializer(ModelSerializer):
    metric_label = serializers.CharField(source="get_metric_display", read_only=True)
    separator = VisibleReferenceIdField(source="separator_id", help_text="Separator id; null when hidden from you.")
    cell = VisibleReferenceIdField(source="cell_id", help_text="Cell id; null when hidden from you.")
    separator_name = VisibleReferenceNameField(source="separator.name", allow_null=True)
    cell_name = VisibleReferenceNameField(source="cell.name", allow_null=True)
    group = serializers.SerializerMethodField(help_text="Research group of the separator or cell (id).")
    group_name = serializers.SerializerMethodField()
    doi = serializers.SerializerMethodField(help_text="Source DOI of the cell, else of the separator.")
    protocol_name = serializers.CharField(source="protocol.name", read_only=True, allow_null=True)
    protocol_version = serializers.IntegerField(source="protocol.version", read_only=True, allow_null=True)
    flags = FlagsField()
    details = serializers.SerializerMethodField(
        help_text="How the value was computed; id lists name only records you may see (hidden_records: how many "
        f"not). In lists, each id list holds at most its first {IDS_IN_DETAILS} ids (<key>_not_listed: how many "
        "more); the entry's own URL lists them all."
    )

    class Meta:
        model = BenchmarkEntry
        fields = [
            "id", "metric", "metric_label", "value", "unit", "stderr", "ci_low", "ci_high", "family",
            "separator", "separator_name", "cell", "cell_name", "group", "group_name", "doi", "temperature_c",
            "stack_pressure_mpa", "thickness_um", "method", "protocol", "protocol_name", "protocol_version",
            "completeness_score", "missing_items", "flags", "blocking", "details", "computed_at",
        ]  # fmt: skip

    def get_details(self, entry) -> dict:
        user = getattr(self.context.get("request"), "user", None)
        page = self.parent if isinstance(self.parent, serializers.ListSerializer) else None
        if page is None:
            return details_for_viewer([entry], user, whole=True)[entry.pk]
        cache = page.__dict__.setdefault("_details_for_viewer", {})  # one query per kind of id per page
        if entry.pk not in cache:
            cache.update(details_for_viewer(page.instance, user))
        return cache[entry.pk]

    def _subject(self, entry):
        return entry.cell if entry.cell_id else entry.separator

    def get_group(self, entry) -> int:
        return self._subject(entry).group_id

    def get_group_name(self, entry) -> str:
        return self._subject(entry).group.name

    def get_doi(self, entry) -> str | None:
        user = getattr(self.context.get("request"), "user", None)
        for record in (entry.cell, entry.separator):
            if record is not None and record.source_id is not None and can_see(user, record):
                return record.source.doi
        return None


class RankedBenchmarkEntrySerializer(BenchmarkEntrySerializer):
    rank = serializers.IntegerField(read_only=True, help_text="1 = best (lowest for ASR-type metrics).")

    class Meta(BenchmarkEntrySerializer.Meta):
        fields = ["rank", *BenchmarkEntrySerializer.Meta.fields]


class LiteratureValueSerializer(ModelSerializer):
    class Meta:
        model = LiteratureValue
        fields = [
            "id", "dataset", "external_id", "composition", "family_reported", "family", "conductivity_s_per_cm",
            "is_upper_bound", "conductivity_total_s_per_cm", "conductivity_bulk_s_per_cm", "space_group", "doi",
        ]  # fmt: skip
