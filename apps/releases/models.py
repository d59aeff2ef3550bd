"""Releases: a group's named, versioned, immutable snapshot of records and the numbers computed from them.

A release is written once, at publication: its records (`ReleaseRecord`), its
benchmark numbers copied as they were then (`ReleasedEntry`), a frozen JSON of
everything the archive holds (`snapshot`) and the archive itself (zip, with
`manifest` of SHA-256 per file). Nothing of it changes afterwards; a
retraction (`Retraction`) is a separate row that hides a record's numbers
from leaderboards without touching the release.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.accounts.models import ResearchGroup
from apps.benchmarks.models import BenchmarkEntry, Metric, RestsOnRecords
from apps.catalog.models import Cell, MaterialFamily, Separator

DEFAULT_LICENCE = "CC-BY-4.0"


class RecordKind(models.TextChoices):
    SEPARATOR = "separator", "Separator"
    CELL = "cell", "Cell"
    SPECTRUM = "spectrum", "Impedance spectrum"


class Release(models.Model):
    """One published version of a dataset (`dataset_key`); version n+1 of the same key supersedes n."""

    group = models.ForeignKey(ResearchGroup, on_delete=models.PROTECT, related_name="releases")
    dataset_key = models.SlugField(max_length=80, help_text="Names the dataset across its versions.")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    authors = models.JSONField(default=list, help_text='[{"name": "…", "orcid": "0000-0002-1825-0097"}], in order.')
    licence = models.CharField(max_length=60, default=DEFAULT_LICENCE, help_text="SPDX licence identifier.")
    source_dois = models.JSONField(default=list, blank=True, help_text="DOIs of the papers the records belong to.")
    citation = models.TextField(help_text="Suggested citation, generated at publication.")
    published_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snapshot = models.JSONField(default=dict, help_text="Everything the archive holds, as computed at publication.")
    archive = models.FileField(upload_to="releases/", max_length=300, blank=True)
    archive_sha256 = models.CharField(max_length=64, blank=True)
    archive_size_bytes = models.PositiveBigIntegerField(default=0)
    manifest = models.JSONField(default=dict, help_text="Archive member path → SHA-256 (hex).")

    class Meta:
        ordering = ["-published_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["group", "dataset_key", "version"], name="release_unique_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="release_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"

    @property
    def label(self) -> str:
        return f"{self.group.slug}/{self.dataset_key} v{self.version}"


class ReleaseRecord(models.Model):
    """A record a release includes. Ids, not foreign keys: a release names its records even if one is retracted."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="records")
    kind = models.CharField(max_length=12, choices=RecordKind.choices)
    object_id = models.PositiveBigIntegerField()
    name = models.CharField(max_length=300)

    class Meta:
        ordering = ["kind", "object_id"]
        constraints = [
            models.UniqueConstraint(fields=["release", "kind", "object_id"], name="release_record_unique"),
        ]
        indexes = [models.Index(fields=["kind", "object_id"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name} in {self.release}"


class ReleasedEntry(RestsOnRecords):
    """A benchmark number as it was at publication, copied: later uploads and re-fits never change it."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="entries")
    entry = models.ForeignKey(
        BenchmarkEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The live entry it was copied from (it may have changed since).",
    )
    separator = models.ForeignKey(Separator, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    cell = models.ForeignKey(Cell, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    metric = models.CharField(max_length=30, choices=Metric.choices)
    family = models.CharField(max_length=20, choices=MaterialFamily.choices, blank=True)
    value = models.FloatField()
    unit = models.CharField(max_length=20)
    stderr = models.FloatField(null=True, blank=True)
    ci_low = models.FloatField(null=True, blank=True)
    ci_high = models.FloatField(null=True, blank=True)
    temperature_c = models.FloatField(null=True, blank=True)
    stack_pressure_mpa = models.FloatField(null=True, blank=True)
    thickness_um = models.FloatField(null=True, blank=True)
    method = models.CharField(max_length=200, blank=True)
    protocol_label = models.CharField(max_length=120, blank=True)
    completeness_score = models.FloatField()
    missing_items = models.JSONField(default=list, blank=True)
    flags = models.JSONField(default=list, blank=True)
    blocking = models.BooleanField(default=False)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["metric", "-value", "pk"]
        verbose_name_plural = "released entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(separator__isnull=False) | Q(cell__isnull=False), name="released_entry_has_subject"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} of {self.cell or self.separator}: {self.value:.3g} {self.unit} ({self.release.label})"


class Retraction(models.Model):
    """A released record withdrawn, with the reason: its numbers leave leaderboards, its pages stay."""

    kind = models.CharField(max_length=12, choices=RecordKind.choices)
    object_id = models.PositiveBigIntegerField()
    name = models.CharField(max_length=300)
    group = models.ForeignKey(ResearchGroup, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    retracted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    retracted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-retracted_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="retraction_unique_record"),
            models.CheckConstraint(condition=~Q(reason=""), name="retraction_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name} retracted: {self.reason[:60]}"
