"""Raw instrument files, impedance spectra and the other measurements of a cell."""
from __future__ import annotations

import numpy as np
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from apps.accounts.models import OwnedRecord
from apps.catalog.models import Cell


def raw_file_path(instance: "RawFile", filename: str) -> str:
    # Content-addressed: the same bytes always land at the same path.
    return f"raw/{instance.sha256[:2]}/{instance.sha256}"


class RawFile(OwnedRecord):
    """An uploaded instrument file, kept byte for byte."""

    file = models.FileField(upload_to=raw_file_path, max_length=300)
    sha256 = models.CharField(max_length=64, db_index=True)
    original_name = models.CharField(max_length=255)
    size_bytes = models.PositiveBigIntegerField()
    format = models.CharField(max_length=40, help_text="Format the parser detected.")
    parser_version = models.CharField(max_length=20)
    cell = models.ForeignKey(Cell, null=True, blank=True, on_delete=models.PROTECT, related_name="raw_files")

    # A raw file is never more visible than its cell (apps.accounts.references).
    visibility_references = ("cell",)

    class Meta:
        ordering = ["-created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["group", "sha256"], name="raw_file_unique_per_group")]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:10]})"


class Atmosphere(models.TextChoices):
    ARGON = "argon", "Argon"
    NITROGEN = "nitrogen", "Nitrogen"
    DRY_AIR = "dry_air", "Dry air"
    AMBIENT_AIR = "ambient_air", "Ambient air"
    VACUUM = "vacuum", "Vacuum"
    SEALED = "sealed", "Sealed cell"


class FrequencyGrid(models.Model):
    """The frequencies of one sweep (float64 little-endian, in measurement order), stored once for every spectrum
    measured on it: an instrument repeats its sweep, so most spectra share one. Named by the SHA-256 of its
    bytes, which is what a spectrum refers to it by; never changed or deleted (content-addressed)."""

    sha256 = models.CharField(max_length=64, primary_key=True, help_text="SHA-256 (hex) of the frequency bytes.")
    n_points = models.PositiveIntegerField()
    data = models.BinaryField(help_text="float64 LE: n frequencies (Hz).")

    def __str__(self) -> str:
        return f"{self.n_points}-point frequency grid {self.sha256[:10]}"


#: Frequency grids read in this process, by name: a grid never changes (its name is its content), so an entry
#: is never stale, and a list of spectra on one sweep costs one query for the grid, not one per spectrum.
_GRID_BYTES: dict[str, bytes] = {}
_GRID_CACHE_SIZE = 1024


def remember_grid(sha256: str, data: bytes) -> None:
    if len(_GRID_BYTES) >= _GRID_CACHE_SIZE:
        _GRID_BYTES.clear()
    _GRID_BYTES[sha256] = data


def grid_frequency_bytes(sha256: str) -> bytes:
    """The float64 bytes of a frequency grid by its SHA-256 (read from the database once per process)."""
    data = _GRID_BYTES.get(sha256)
    if data is None:
        data = bytes(FrequencyGrid.objects.values_list("data", flat=True).get(sha256=sha256))
        remember_grid(sha256, data)
    return data


class ImpedanceSpectrum(OwnedRecord):
    """One impedance spectrum and the conditions it was measured under.

    The arrays live in one binary column (float64 little-endian) so a spectrum reads back in one query on
    SQLite and PostgreSQL: Z', Z'' when the frequencies are a shared ``FrequencyGrid`` (what the services
    store; a grid is read once per process), or frequencies, Z', Z'' when the spectrum has none (``pack``;
    rows written by hand).
    """

    class Mode(models.TextChoices):
        POTENTIOSTATIC = "potentiostatic", "Potentiostatic"
        GALVANOSTATIC = "galvanostatic", "Galvanostatic"

    # No index of its own: the (cell, index_in_file, id) and (cell, cycle_index, …) indexes lead with it.
    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="spectra", db_index=False)
    raw_file = models.ForeignKey(RawFile, null=True, blank=True, on_delete=models.PROTECT, related_name="spectra")
    visibility_references = ("cell", "raw_file")
    index_in_file = models.PositiveIntegerField(default=0)
    label = models.CharField(max_length=200, blank=True)
    data = models.BinaryField(
        help_text="float64 LE: n Z' (Ω), n Z'' (Ω), after n frequencies (Hz) when there is no frequency grid."
    )
    # No index: a grid is looked up by its own unique name, never the spectra by their grid.
    frequency_grid = models.ForeignKey(
        FrequencyGrid, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False, help_text="The shared frequencies of the sweep; null when they are stored in data.",
    )
    n_points = models.PositiveIntegerField()
    frequency_min_hz = models.FloatField()
    frequency_max_hz = models.FloatField()
    points_per_decade = models.FloatField(null=True, blank=True)
    # Conditions that decide comparability.
    temperature_c = models.FloatField(null=True, blank=True)
    equilibration_time_min = models.FloatField(null=True, blank=True)
    atmosphere = models.CharField(max_length=15, choices=Atmosphere.choices, blank=True)
    stack_pressure_mpa = models.FloatField(null=True, blank=True, help_text="Stack pressure during the measurement.")
    cycle_index = models.PositiveIntegerField(null=True, blank=True)
    state_of_charge = models.FloatField(null=True, blank=True, help_text="0–1.")
    elapsed_time_h = models.FloatField(null=True, blank=True, help_text="Time since assembly, h.")
    dc_bias_v = models.FloatField(null=True, blank=True)
    ac_amplitude_mv = models.FloatField(null=True, blank=True)
    mode = models.CharField(max_length=15, choices=Mode.choices, blank=True)
    instrument = models.CharField(max_length=120, blank=True)
    measured_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True, help_text="Everything the instrument file stated.")

    class Meta:
        ordering = ["cell", "index_in_file", "pk"]
        verbose_name = "impedance spectrum"
        verbose_name_plural = "impedance spectra"
        # Keyset pages of the API: every offered ordering (and range filter) as (column, id), the default
        # order (cell, position in file) too, so a page at any depth is an index range scan.
        indexes = [
            models.Index(fields=["cell", "index_in_file", "id"], name="spectrum_cell_position"),
            # The cell page lists its spectra by cycle and time: a page of 50 of a cell's thousands is a range scan.
            models.Index(fields=["cell", "cycle_index", "elapsed_time_h", "id"], name="spectrum_cell_cycle_time"),
            # A cell's spectra newest first (`?cell=…`, by measurement or upload time): without these PostgreSQL
            # walks the whole time index past every other cell's spectra (0.8 s for a 20,000-spectrum cell at 1 M).
            models.Index(fields=["cell", "measured_at", "id"], name="spectrum_cell_measured_at"),
            models.Index(fields=["cell", "created_at", "id"], name="spectrum_cell_created_at"),  # the API's default order
            models.Index(fields=["created_at", "id"], name="spectrum_created_at"),
            models.Index(fields=["measured_at", "id"], name="spectrum_measured_at"),
            models.Index(fields=["temperature_c", "id"], name="spectrum_temperature"),
            models.Index(fields=["stack_pressure_mpa", "id"], name="spectrum_stack_pressure"),
            models.Index(fields=["cycle_index", "id"], name="spectrum_cycle_index"),
            models.Index(fields=["elapsed_time_h", "id"], name="spectrum_elapsed_time"),
            models.Index(fields=["n_points", "id"], name="spectrum_n_points"),
            models.Index(fields=["label", "id"], name="spectrum_label"),
            models.Index(fields=["embargo_until"], name="spectrum_embargo_until"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(n_points__gte=5), name="spectrum_at_least_5_points"),
            models.CheckConstraint(condition=Q(frequency_min_hz__gt=0), name="spectrum_frequencies_positive"),
            models.CheckConstraint(
                condition=Q(frequency_max_hz__gte=models.F("frequency_min_hz")), name="spectrum_frequency_range_ordered"
            ),
            models.CheckConstraint(
                condition=Q(state_of_charge__isnull=True) | (Q(state_of_charge__gte=0) & Q(state_of_charge__lte=1)),
                name="spectrum_state_of_charge_fraction",
            ),
            models.CheckConstraint(
                condition=Q(stack_pressure_mpa__isnull=True) | Q(stack_pressure_mpa__gte=0),
                name="spectrum_stack_pressure_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(temperature_c__isnull=True) | Q(temperature_c__gt=-273.15),
                name="spectrum_temperature_above_absolute_zero",
            ),
        ]

    def __str__(self) -> str:
        temperature = f" at {self.temperature_c:g} °C" if self.temperature_c is not None else ""
        return f"{self.label or 'Spectrum'} — {self.cell.name}{temperature}"

    @staticmethod
    def pack(frequencies_hz, impedance_ohm) -> bytes:
        f = np.asarray(frequencies_hz, dtype="<f8")
        z = np.asarray(impedance_ohm, dtype=complex)
        return np.concatenate([f, z.real.astype("<f8"), z.imag.astype("<f8")]).tobytes()

    def set_arrays(self, frequencies_hz, impedance_ohm) -> None:
        f = np.asarray(frequencies_hz, dtype=float)
        self.data = self.pack(f, impedance_ohm)
        self.frequency_grid = None  # the frequencies are in data until share_frequency_grids moves them
        self.n_points = int(f.size)
        self.frequency_min_hz = float(f.min())
        self.frequency_max_hz = float(f.max())

    def _columns(self) -> np.ndarray:
        """Rows frequencies (Hz), Z', Z'' (Ω)."""
        values = np.frombuffer(bytes(self.data), dtype="<f8")
        if self.frequency_grid_id is None:
            return values.reshape(3, -1)
        return np.vstack([np.frombuffer(grid_frequency_bytes(self.frequency_grid_id), dtype="<f8"),
                          values.reshape(2, -1)])

    @property
    def frequencies_hz(self) -> np.ndarray:
        return self._columns()[0].astype(float)

    @property
    def impedance_ohm(self) -> np.ndarray:
        columns = self._columns()
        return columns[1] + 1j * columns[2]


class SpectrumCount(models.Model):
    """How many spectra a cell has per visibility class (group, visibility, embargo, uploader), kept by database
    triggers on every insert, delete and change of those columns (migration 0007), whoever writes — services,
    bulk COPY or the admin. A viewer's count of a cell's spectra is the sum of the rows they may see
    (`visible_q` on these columns), so counting a cell with 20,000 spectra, or ordering cells by their counts,
    reads a few rows per cell instead of every spectrum. Several rows may share a class (the triggers append
    rather than lock a shared row when two uploads start the class at once): only sums are meaningful."""

    cell_id = models.IntegerField()
    group_id = models.IntegerField()
    visibility = models.CharField(max_length=10)
    embargo_until = models.DateField(null=True)
    created_by_id = models.IntegerField(null=True)
    n = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["cell_id"], name="spectrumcount_cell")]

    def __str__(self) -> str:
        return f"cell {self.cell_id}: {self.n} ({self.visibility})"


class DCPolarisation(OwnedRecord):
    """Hebb–Wagner-type DC polarisation with blocking electrodes: σ_e = L / (A·ΔV/I_ss)."""

    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="dc_polarisations")
    visibility_references = ("cell",)
    voltage_v = models.FloatField(help_text="Applied DC voltage ΔV, V.")
    steady_current_a = models.FloatField(help_text="Steady-state current I_ss, A.")
    initial_current_a = models.FloatField(null=True, blank=True)
    duration_h = models.FloatField(null=True, blank=True)
    temperature_c = models.FloatField(null=True, blank=True)
    stack_pressure_mpa = models.FloatField(null=True, blank=True)
    measured_at = models.DateTimeField(null=True, blank=True)
    time_s = models.JSONField(default=list, blank=True, help_text="Current trace: times since the step, s.")
    current_a = models.JSONField(default=list, blank=True, help_text="Current trace: current at each time, A.")

    class Meta:
        ordering = ["cell", "pk"]
        verbose_name = "DC polarisation"
        constraints = [
            models.CheckConstraint(condition=~Q(voltage_v=0), name="dc_polarisation_voltage_nonzero"),
            models.CheckConstraint(condition=Q(steady_current_a__gt=0), name="dc_polarisation_current_positive"),
        ]

    def __str__(self) -> str:
        return f"DC polarisation of {self.cell.name} at {self.voltage_v:g} V"

    def clean(self) -> None:
        """The current trace, when given, is two equally long lists of finite numbers with rising times."""
        super().clean()
        times, currents = self.time_s or [], self.current_a or []
        if not times and not currents:
            return
        try:
            t = np.asarray(times, dtype=float)
            i = np.asarray(currents, dtype=float)
        except (TypeError, ValueError):
            raise ValidationError({"current_a": "The current trace must hold numbers only."}) from None
        if t.ndim != 1 or i.ndim != 1 or t.size != i.size:
            raise ValidationError({"current_a": f"The trace has {t.size} times but {i.size} currents."})
        if t.size < 2 or not (np.all(np.isfinite(t)) and np.all(np.isfinite(i))):
            raise ValidationError({"current_a": "The trace needs at least two points, all finite."})
        if np.any(np.diff(t) <= 0):
            raise ValidationError({"time_s": "Times of the current trace must rise strictly."})


class CriticalCurrentDensityTest(OwnedRecord):
    """A critical-current-density test and the protocol without which its number means little."""

    class FailureRule(models.TextChoices):
        VOLTAGE_DROP = "voltage_drop", "Sudden voltage drop (short circuit)"
        VOLTAGE_LIMIT = "voltage_limit", "Voltage exceeds a limit"
        IMPEDANCE_DROP = "impedance_drop", "Impedance drop"
        OTHER = "other", "Other"

    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="ccd_tests")
    visibility_references = ("cell",)
    temperature_c = models.FloatField(null=True, blank=True)
    stack_pressure_mpa = models.FloatField(null=True, blank=True)
    initial_current_density_ma_per_cm2 = models.FloatField()
    step_ma_per_cm2 = models.FloatField(help_text="Current-density increment per step, mA/cm².")
    capacity_per_half_cycle_mah_per_cm2 = models.FloatField(null=True, blank=True)
    half_cycle_duration_h = models.FloatField(null=True, blank=True)
    failure_rule = models.CharField(max_length=15, choices=FailureRule.choices)
    failure_voltage_limit_v = models.FloatField(null=True, blank=True)
    critical_current_density_ma_per_cm2 = models.FloatField(null=True, blank=True, help_text="Null: did not fail.")
    measured_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["cell", "pk"]
        verbose_name = "critical current density test"
        constraints = [
            models.CheckConstraint(condition=Q(step_ma_per_cm2__gt=0), name="ccd_step_positive"),
            models.CheckConstraint(
                condition=Q(initial_current_density_ma_per_cm2__gt=0), name="ccd_initial_current_positive"
            ),
            models.CheckConstraint(
                condition=Q(capacity_per_half_cycle_mah_per_cm2__isnull=False) | Q(half_cycle_duration_h__isnull=False),
                name="ccd_states_capacity_or_duration",
            ),
        ]

    def __str__(self) -> str:
        ccd = self.critical_current_density_ma_per_cm2
        return f"CCD of {self.cell.name}: " + (f"{ccd:g} mA/cm²" if ccd is not None else "no failure")

    MAX_LISTED_STEPS = 200

    def steps(self) -> list[dict]:
        """The current-density steps up to the failing one: j_k = j_0 + k·Δj (mA/cm²), with each half-cycle's
        duration (h) and capacity (mAh/cm²) from Q = j·t, whichever of the two the protocol fixed.

        Empty when the cell did not fail (the last step reached is not stored).
        """
        ccd, j0, dj = self.critical_current_density_ma_per_cm2, self.initial_current_density_ma_per_cm2, self.step_ma_per_cm2
        if ccd is None or not j0 or not dj or ccd < j0:
            return []
        count = min(int(round((ccd - j0) / dj)) + 1, self.MAX_LISTED_STEPS)
        rows = []
        for k in range(count):
            j = j0 + k * dj
            capacity, duration = self.capacity_per_half_cycle_mah_per_cm2, self.half_cycle_duration_h
            if capacity is not None and duration is None:
                duration = capacity / j
            elif duration is not None and capacity is None:
                capacity = j * duration
            rows.append({"number": k + 1, "current_density_ma_per_cm2": j, "half_cycle_duration_h": duration,
                         "capacity_per_half_cycle_mah_per_cm2": capacity, "failed": k == count - 1})
        return rows
