"""Comparable numbers per separator or cell, and published values for context."""
from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.analysis.models import FitProtocol
from apps.catalog.models import Cell, MaterialFamily, Separator


class Metric(models.TextChoices):
    SIGMA_25C_TOTAL = "sigma_25c_total", "Total conductivity at 25 °C"
    SIGMA_25C_BULK = "sigma_25c_bulk", "Bulk conductivity at 25 °C"
    SIGMA_25C_GRAIN_BOUNDARY = "sigma_25c_grain_boundary", "Grain-boundary conductivity at 25 °C"
    ACTIVATION_ENERGY = "activation_energy", "Activation energy"
    SEPARATOR_ASR = "separator_asr", "Separator area-specific resistance"
    INTERFACIAL_ASR = "interfacial_asr", "Interfacial area-specific resistance"
    IMPEDANCE_GROWTH_PER_CYCLE = "impedance_growth_per_cycle", "Impedance growth per cycle"
    IMPEDANCE_GROWTH_PER_HOUR = "impedance_growth_per_hour", "Impedance growth per hour"
    ELECTRONIC_CONDUCTIVITY = "electronic_conductivity", "Electronic conductivity"
    CRITICAL_CURRENT_DENSITY = "critical_current_density", "Critical current density"


METRIC_UNITS = {
    Metric.SIGMA_25C_TOTAL: "S/cm",
    Metric.SIGMA_25C_BULK: "S/cm",
    Metric.SIGMA_25C_GRAIN_BOUNDARY: "S/cm",
    Metric.ACTIVATION_ENERGY: "eV",
    Metric.SEPARATOR_ASR: "Ω·cm²",
    Metric.INTERFACIAL_ASR: "Ω·cm²",
    Metric.IMPEDANCE_GROWTH_PER_CYCLE: "Ω·cm²/cycle",
    Metric.IMPEDANCE_GROWTH_PER_HOUR: "Ω·cm²/h",
    Metric.ELECTRONIC_CONDUCTIVITY: "S/cm",
    Metric.CRITICAL_CURRENT_DENSITY: "mA/cm²",
}


#: The id lists in an entry's details: every record its value rests on.
RECORD_ID_KEYS = ("spectrum_ids", "cell_ids", "conductivity_ids", "dc_polarisation_ids")
#: Ids of each list that ``details`` keeps (a list of entries shows these); ``record_ids`` keeps them all.
IDS_IN_DETAILS = 20


def split_record_ids(details: dict) -> tuple[dict, dict]:
    """``details`` with each id list cut to its first ``IDS_IN_DETAILS`` ids (``<key>_not_listed``: how many
    more), and the whole lists apart. A big separator's entry rests on 250,000 spectra: a page of entries
    must not decode them to show the first few."""
    shown, record_ids = {}, {}
    for key, value in details.items():
        if key in RECORD_ID_KEYS and isinstance(value, list):
            record_ids[key] = value
            shown[key] = value[:IDS_IN_DETAILS]
            if len(value) > IDS_IN_DETAILS:
                shown[f"{key}_not_listed"] = len(value) - IDS_IN_DETAILS
        else:
            shown[key] = value
    return shown, record_ids


def whole_details(details: dict, record_ids: dict) -> dict:
    """The inverse of ``split_record_ids``: ``details`` with every id list whole."""
    not_listed = {f"{key}_not_listed" for key in RECORD_ID_KEYS}
    return {**{k: v for k, v in details.items() if k not in not_listed}, **record_ids}


class RestsOnRecords(models.Model):
    """How a number was computed (``details``) and the records it rests on (``record_ids``, read apart)."""

    details = models.JSONField(
        default=dict, blank=True,
        help_text=f"How the value was computed; each id list holds its first {IDS_IN_DETAILS} ids.",
    )
    record_ids = models.JSONField(
        default=dict, blank=True,
        help_text="Every record the value rests on: {spectrum_ids, cell_ids, conductivity_ids, dc_polarisation_ids}.",
    )

    class Meta:
        abstract = True

    def all_details(self) -> dict:
        """``details`` with every id list whole (reads ``record_ids``, which lists of entries defer)."""
        return whole_details(self.details, self.record_ids)


class BenchmarkEntry(RestsOnRecords):
    """One comparable number of a separator or a cell, with uncertainty, completeness and flags.

    Visibility follows the separator or cell it belongs to.
    """

    separator = models.ForeignKey(
        Separator, null=True, blank=True, on_delete=models.CASCADE, related_name="benchmark_entries"
    )
    cell = models.ForeignKey(Cell, null=True, blank=True, on_delete=models.CASCADE, related_name="benchmark_entries")
    metric = models.CharField(max_length=30, choices=Metric.choices)
    family = models.CharField(
        max_length=20, choices=MaterialFamily.choices, blank=True, help_text="Family of the separator's fast-ion phase."
    )
    value = models.FloatField(help_text="In the metric's unit (see `unit`).")
    unit = models.CharField(max_length=20)
    stderr = models.FloatField(null=True, blank=True)
    ci_low = models.FloatField(null=True, blank=True, help_text="95 % confidence interval, lower end.")
    ci_high = models.FloatField(null=True, blank=True)
    temperature_c = models.FloatField(null=True, blank=True)
    stack_pressure_mpa = models.FloatField(null=True, blank=True)
    thickness_um = models.FloatField(null=True, blank=True)
    method = models.CharField(max_length=200, blank=True, help_text="How it was obtained: measured, Arrhenius, …")
    protocol = models.ForeignKey(FitProtocol, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    completeness_score = models.FloatField(help_text="0–1, from the reporting checklist.")
    missing_items = models.JSONField(default=list, blank=True)
    flags = models.JSONField(default=list, blank=True)
    blocking = models.BooleanField(default=False, help_text="A flag that keeps it off leaderboards.")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["metric", "-value"]
        verbose_name_plural = "benchmark entries"
        indexes = [
            models.Index(fields=["metric", "-value", "id"], name="benchmark_metric_value"),
            models.Index(fields=["value", "id"], name="benchmark_value"),
            models.Index(fields=["completeness_score", "id"], name="benchmark_completeness"),
            models.Index(fields=["temperature_c", "id"], name="benchmark_temperature"),
            models.Index(fields=["stack_pressure_mpa", "id"], name="benchmark_stack_pressure"),
            models.Index(fields=["thickness_um", "id"], name="benchmark_thickness"),
            models.Index(fields=["computed_at", "id"], name="benchmark_computed_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(separator__isnull=False) | Q(cell__isnull=False), name="benchmark_entry_has_subject"
            ),
            models.CheckConstraint(
                condition=Q(completeness_score__gte=0) & Q(completeness_score__lte=1),
                name="benchmark_completeness_fraction",
            ),
            models.UniqueConstraint(
                fields=["separator", "metric"], condition=Q(cell__isnull=True), name="benchmark_unique_separator_metric"
            ),
            models.UniqueConstraint(
                fields=["cell", "metric"], condition=Q(cell__isnull=False), name="benchmark_unique_cell_metric"
            ),
        ]

    def __str__(self) -> str:
        subject = self.cell or self.separator
        return f"{self.get_metric_display()} of {subject}: {self.value:.3g} {self.unit}"


class LiteratureValue(models.Model):
    """A reported room-temperature conductivity (OBELiX, CC BY 4.0): not re-fitted, conditions unknown."""

    dataset = models.CharField(max_length=40, default="OBELiX")
    external_id = models.CharField(max_length=40)
    composition = models.CharField(max_length=200)
    family_reported = models.CharField(max_length=80, help_text="Structural family as the dataset names it.")
    family = models.CharField(max_length=20, choices=MaterialFamily.choices, default=MaterialFamily.OTHER)
    conductivity_s_per_cm = models.FloatField()
    is_upper_bound = models.BooleanField(
        default=False, help_text='Reported only as an upper limit ("<1E-10"); the limit is stored.'
    )
    conductivity_total_s_per_cm = models.FloatField(null=True, blank=True)
    conductivity_bulk_s_per_cm = models.FloatField(null=True, blank=True)
    space_group = models.CharField(max_length=30, blank=True)
    doi = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["family", "-conductivity_s_per_cm"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "external_id"], name="literature_value_unique"),
            models.CheckConstraint(condition=Q(conductivity_s_per_cm__gt=0), name="literature_conductivity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.composition}: {self.conductivity_s_per_cm:.2g} S/cm ({self.dataset})"


class ComparisonAcceptance(models.Model):
    """A member of a separator's group accepted another group's cell into that separator's benchmark entries.

    Without this row, cells other groups build on the separator are compared with the owner's numbers in
    a separate, attributed round robin (`apps.benchmarks.comparisons`), never averaged into them.
    """

    separator = models.ForeignKey(Separator, on_delete=models.CASCADE, related_name="accepted_cells")
    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, related_name="comparison_acceptances")
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=300, blank=True, help_text="Why this cell belongs in the comparison.")

    class Meta:
        ordering = ["separator", "accepted_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["separator", "cell"], name="comparison_acceptance_unique_separator_cell")
        ]

    def __str__(self) -> str:
        return f"{self.cell} accepted into {self.separator}"
