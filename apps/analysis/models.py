"""Fit protocols and everything computed from spectra (the background jobs live in ``apps.jobs``)."""
import math

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.query_utils import DeferredAttribute
from django.utils.functional import cached_property

from apps.accounts.models import ResearchGroup
from apps.analysis.eis import derived as eis_derived
from apps.catalog.models import Separator
from apps.measurements.models import ImpedanceSpectrum

from . import fit_storage
from . import protocols as protocol_rules
from .eis import evaluate_fit, kramers_kronig_test


def _finite_list(values) -> list[float | None]:
    """Non-finite values become null, as JSON serves them."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, float).ravel()]


class Weighting(models.TextChoices):
    MODULUS = "modulus", "Modulus"
    UNIT = "unit", "Unit"
    PROPORTIONAL = "proportional", "Proportional"


class ElementRole(models.TextChoices):
    BULK = "bulk", "Bulk"
    GRAIN_BOUNDARY = "grain_boundary", "Grain boundary"
    TOTAL = "total", "Total electrolyte"
    INTERFACE = "interface", "Interface"
    ELECTRODE = "electrode", "Electrode"
    SERIES = "series", "Series / leads"
    INDUCTANCE = "inductance", "Lead inductance"


class FitProtocol(models.Model):
    """A named, versioned way of fitting spectra. Immutable once used: a change is a new version."""

    name = models.CharField(max_length=120)
    version = models.PositiveIntegerField(default=1)
    description = models.TextField(blank=True)
    circuit = models.CharField(max_length=300, help_text="impedance.py syntax, e.g. R0-p(R1,CPE1)-CPE2.")
    weighting = models.CharField(max_length=15, choices=Weighting.choices, default=Weighting.MODULUS)
    frequency_min_hz = models.FloatField(null=True, blank=True)
    frequency_max_hz = models.FloatField(null=True, blank=True)
    bounds = models.JSONField(default=dict, blank=True, help_text='{"R1": [1e-3, 1e9], ...}')
    element_roles = models.JSONField(default=dict, blank=True, help_text='{"R1": "bulk", "CPE1": "bulk", ...}')
    is_standard = models.BooleanField(default=False, help_text="Used for benchmarks.")
    applies_to = models.JSONField(default=list, blank=True, help_text="Cell configurations it is the standard for.")
    group = models.ForeignKey(ResearchGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="fit_protocol_unique_version"),
            models.CheckConstraint(
                condition=Q(frequency_min_hz__isnull=True)
                | Q(frequency_max_hz__isnull=True)
                | Q(frequency_max_hz__gt=models.F("frequency_min_hz")),
                name="fit_protocol_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def frequency_window_hz(self) -> tuple[float, float] | None:
        """The window fitted (Hz) as the engine takes it; None when the protocol has none."""
        if self.frequency_min_hz is None and self.frequency_max_hz is None:
            return None
        return (self.frequency_min_hz or 0.0, self.frequency_max_hz or math.inf)


class FitStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class _ExpandedReading(DeferredAttribute):
    """Reads a fit's ``derived`` whole: a compact stored dict is expanded from the row's parameters on first read."""

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, dict) and value.get(fit_storage.COMPACT_MARK) is True:
            try:
                value = fit_storage.expand_derived(value, instance.parameters or {}, instance.stderr or {})
            except (KeyError, TypeError, ValueError, ArithmeticError):  # parameters edited by hand since: as stored
                value = {key: entry for key, entry in value.items() if key != fit_storage.COMPACT_MARK}
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance, value):
        # A data descriptor, so that reads come through __get__ rather than straight from the instance's dict.
        instance.__dict__[self.field.attname] = value


class FitReadingField(models.JSONField):
    """A fit's reading (``derived``), stored without what its parameters give back (``fit_storage``); read whole.

    Instances and the API always see the whole reading; ``values()`` and SQL see the stored dict (its
    ``model_choice``, ``flag_details``, ``bound_findings`` and roles are stored as they are). A whole dict
    written by ``update()`` or ``bulk_update()`` is stored whole, which reads the same.
    """

    descriptor_class = _ExpandedReading

    def pre_save(self, model_instance, add):
        value = super().pre_save(model_instance, add)
        return fit_storage.compact_derived(value, model_instance.parameters or {}, model_instance.stderr or {})

    def deconstruct(self):
        # A plain JSONField to the database and to migrations: the column is unchanged, only what goes in it.
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs


class FitResult(models.Model):
    """One spectrum fitted under one protocol version; parameters in SI units (Ω, F, H, s)."""

    # No indexes of their own: the unique (spectrum, protocol) index serves every lookup by spectrum, the
    # (protocol, status) index every lookup by protocol.
    spectrum = models.ForeignKey(ImpedanceSpectrum, on_delete=models.CASCADE, related_name="fits", db_index=False)
    protocol = models.ForeignKey(FitProtocol, on_delete=models.PROTECT, related_name="fits", db_index=False)
    status = models.CharField(max_length=10, choices=FitStatus.choices)
    error = models.TextField(blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    stderr = models.JSONField(default=dict, blank=True, help_text="Standard errors from the covariance, same units.")
    chi_square = models.FloatField(null=True, blank=True)
    reduced_chi_square = models.FloatField(null=True, blank=True)
    converged = models.BooleanField(default=False)
    derived = FitReadingField(
        default=dict, blank=True, help_text="Resistances, effective capacitances and arc assignments per element."
    )
    flags = models.JSONField(default=list, blank=True)
    engine_version = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["spectrum", "protocol"]
        constraints = [models.UniqueConstraint(fields=["spectrum", "protocol"], name="fit_unique_spectrum_protocol")]
        # The default order is served by the unique constraint's index; these serve `?ordering=` and filters.
        indexes = [
            models.Index(fields=["created_at", "id"], name="fit_created_at"),
            models.Index(fields=["updated_at", "id"], name="fit_updated_at"),
            models.Index(fields=["reduced_chi_square", "id"], name="fit_reduced_chi_square"),
            models.Index(fields=["protocol", "status"], name="fit_protocol_status"),
            # The few fits that went through a series model choice, found by spectrum without reading every
            # fit's `derived` (a cell page asks for them among its thousands of spectra).
            models.Index(fields=["spectrum"], condition=models.Q(derived__model_choice__series__has_key="kind"),
                         name="fit_series_model_choice"),
        ]

    def __str__(self) -> str:
        return f"{self.protocol} on spectrum {self.spectrum_id} ({self.status})"

    @property
    def roles(self) -> dict[str, str]:
        """Role of each circuit element as the pipeline read this fit — the one place every consumer takes roles from.

        The protocol's ``element_roles``, overridden by the roles stored in ``derived["elements"]``
        (the pipeline may reassign them by capacitance; a resistor's capacitive partner follows it).
        """
        roles = dict(self.protocol.element_roles or {}) if self.protocol_id else {}
        elements = (self.derived or {}).get("elements") or {} if isinstance(self.derived, dict) else {}
        for name, entry in elements.items():
            if not isinstance(entry, dict) or "role" not in entry:
                continue
            roles[name] = entry["role"]
            if entry.get("capacitive_element"):
                roles[entry["capacitive_element"]] = entry["role"]
        return roles

    @property
    def hidden_elements(self) -> set[str]:
        """Resistors the pipeline found buried under the electrode spike: not determined by the data, counted nowhere."""
        elements = (self.derived or {}).get("elements") or {} if isinstance(self.derived, dict) else {}
        return {n for n, e in elements.items() if isinstance(e, dict) and e.get("hidden_under_electrode_spike")}

    # Residuals and correlations are not stored (they were most of the row): they follow from the parameters and
    # the spectrum. The rms residual that the flags judge is kept in ``derived["rms_relative_residual"]``.
    @cached_property
    def _statistics(self) -> tuple[list, list, list]:
        """Residuals (real, imaginary) and correlations at the stored parameters (``eis.evaluate_fit``); empty for a
        failed fit. Held parameters are those with a zero standard error (the engine's convention), so the
        canonical renumbering of the parameters does not matter."""
        if self.status != FitStatus.SUCCEEDED or not self.parameters:
            return [], [], []
        protocol, spectrum = self.protocol, self.spectrum
        held = [name for name, error in (self.stderr or {}).items() if error == 0]
        try:
            result = evaluate_fit(protocol.circuit, self.parameters, spectrum.frequencies_hz, spectrum.impedance_ohm,
                                  weighting=protocol.weighting, frequency_window_hz=protocol.frequency_window_hz,
                                  fixed=held)
        except (ValueError, KeyError, ArithmeticError, np.linalg.LinAlgError):
            return [], [], []
        return (_finite_list(result.residuals_real), _finite_list(result.residuals_imag),
                [_finite_list(row) for row in result.correlations])

    @property
    def residuals_real(self) -> list[float | None]:
        """Relative residuals (Z − Z_model)/|Z| per point inside the protocol's window (empty for a failed fit)."""
        return self._statistics[0]

    @property
    def residuals_imag(self) -> list[float | None]:
        return self._statistics[1]

    @property
    def correlations(self) -> list[list[float | None]]:
        """Correlation matrix of the parameters, in the circuit's parameter order (null for held ones)."""
        return self._statistics[2]

    @property
    def bound_finding_texts(self) -> list[str]:
        """The protocol bounds that held a parameter of this fit, in words (``derived["bound_findings"]``)."""
        from apps.analysis.protocol_bounds import finding_text

        entries = (self.derived or {}).get("bound_findings") or [] if isinstance(self.derived, dict) else []
        return [finding_text(e) for e in entries if isinstance(e, dict)]

    def parameter_items(self) -> list[tuple[str, float]]:
        """(name, value) in the circuit's order: PostgreSQL's jsonb does not keep dict order."""
        from apps.analysis.eis import parse_circuit

        parameters = self.parameters or {}
        try:
            names = parse_circuit(self.protocol.circuit).parameter_names
        except ValueError:
            names = sorted(parameters)
        return [(name, parameters[name]) for name in names if name in parameters]


class KKVerdict(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    INSUFFICIENT_DATA = "insufficient_data", "Not enough data to judge"


class KramersKronigCheck(models.Model):
    """Lin-KK validation of a spectrum (Schönleber et al. 2014)."""

    spectrum = models.OneToOneField(ImpedanceSpectrum, on_delete=models.CASCADE, related_name="kk_check")
    n_elements = models.PositiveIntegerField(help_text="M, RC elements chosen by the μ criterion.")
    mu = models.FloatField()
    max_abs_residual = models.FloatField(help_text="Largest |residual| relative to |Z|.")
    systematic_residual = models.FloatField(
        null=True, blank=True,
        help_text="Largest |moving average of the residuals over 9 points|: what the verdict is based on.",
    )
    noise_level = models.FloatField(
        null=True, blank=True, help_text="Noise of the residuals estimated from their second differences (σ̂).",
    )
    threshold = models.FloatField(
        help_text="Limit the systematic residual was held to: max(floor 0.4 %, min(1.5 %, 4.5·σ̂/√9)).",
    )
    passed = models.BooleanField(help_text="verdict == passed (a spectrum too short or sparse to judge never passes).")
    verdict = models.CharField(
        max_length=20, choices=KKVerdict.choices,
        help_text="passed: systematic_residual ≤ threshold; insufficient_data: < 20 points or < 5 per decade.",
    )
    reason = models.CharField(max_length=200, blank=True, help_text="Why the verdict, in a few words.")
    engine_version = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"KK {self.get_verdict_display().lower()} for spectrum {self.spectrum_id}"

    @property
    def failed(self) -> bool:
        """The check found structure: only this verdict makes a fit of the spectrum untrustworthy."""
        return self.verdict == KKVerdict.FAILED

    @property
    def insufficient_data(self) -> bool:
        return self.verdict == KKVerdict.INSUFFICIENT_DATA

    # The residual arrays are not stored (they were most of the row): the check is run again with its
    # stored number of elements, which gives them back exactly. Lists, as the API serves them.
    @cached_property
    def _residuals(self) -> tuple[list, list]:
        """Lin-KK of the spectrum with this check's number of elements (empty if the test is no longer possible)."""
        f, z = self.spectrum.frequencies_hz, self.spectrum.impedance_ohm
        try:
            kk = kramers_kronig_test(f, z, min_m=self.n_elements, max_m=self.n_elements,
                                     add_capacitance=protocol_rules.has_capacitive_tail(f, z))
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            return [], []
        return _finite_list(kk.residuals_real), _finite_list(kk.residuals_imag)

    @property
    def residuals_real(self) -> list[float | None]:
        return self._residuals[0]

    @property
    def residuals_imag(self) -> list[float | None]:
        return self._residuals[1]

    @property
    def summary(self) -> str:
        """What the verdict judged, in a few words for a badge."""
        if self.insufficient_data:
            return self.reason or "too few points to judge"
        if self.systematic_residual is None:
            return f"largest residual {self.max_abs_residual:.2%}, limit {self.threshold:.2%}"
        return (
            f"smoothed residual {self.systematic_residual:.2%}, limit {self.threshold:.2%}, "
            f"noise {self.noise_level or 0.0:.2%}"
        )

    @property
    def failure_text(self) -> str:
        """What the verdict compared, for a flag note (the noise-aware verdict: smoothed residual vs limit)."""
        if self.systematic_residual is None:  # a check stored before the noise-aware verdict
            return f"Kramers–Kronig residuals up to {self.max_abs_residual:.2%} (limit {self.threshold:.2%})"
        return (
            f"Kramers–Kronig residuals show structure: smoothed residual {self.systematic_residual:.2%} "
            f"> limit {self.threshold:.2%} (noise {self.noise_level or 0.0:.2%}, "
            f"largest single residual {self.max_abs_residual:.2%})"
        )


class ConductivityKind(models.TextChoices):
    BULK = "bulk", "Bulk"
    GRAIN_BOUNDARY = "grain_boundary", "Grain boundary"
    TOTAL = "total", "Total"


class Conductivity(models.Model):
    """σ = L / (R·A) from one fit, with the error propagated from R, L and A."""

    # No single-column indexes: the unique (fit, kind) and the (spectrum, kind, id) indexes lead with them.
    fit = models.ForeignKey(FitResult, on_delete=models.CASCADE, related_name="conductivities", db_index=False)
    spectrum = models.ForeignKey(ImpedanceSpectrum, on_delete=models.CASCADE, related_name="conductivities",
                                 db_index=False)
    kind = models.CharField(max_length=15, choices=ConductivityKind.choices)
    resistance_ohm = models.FloatField()
    resistance_stderr_ohm = models.FloatField(null=True, blank=True)
    conductivity_s_per_cm = models.FloatField()
    conductivity_stderr_s_per_cm = models.FloatField(null=True, blank=True)
    temperature_c = models.FloatField(null=True, blank=True)
    thickness_um = models.FloatField()
    area_cm2 = models.FloatField()

    class Meta:
        ordering = ["spectrum", "kind"]
        verbose_name_plural = "conductivities"
        indexes = [
            models.Index(fields=["spectrum", "kind", "id"], name="conductivity_spectrum_kind"),
            models.Index(fields=["conductivity_s_per_cm", "id"], name="conductivity_sigma"),
            models.Index(fields=["temperature_c", "id"], name="conductivity_temperature"),
            models.Index(fields=["thickness_um", "id"], name="conductivity_thickness"),
            models.Index(fields=["kind", "id"], name="conductivity_kind"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["fit", "kind"], name="conductivity_unique_fit_kind"),
            models.CheckConstraint(condition=Q(conductivity_s_per_cm__gt=0), name="conductivity_positive"),
        ]

    def __str__(self) -> str:
        return f"σ_{self.kind} = {self.conductivity_s_per_cm:.3g} S/cm"


class ConductivitySummary(models.Model):
    """A separator's conductivities (of each spectrum's chosen fit) summed per kind and temperature, one row per
    visibility class of the spectra and their cells, so any viewer's per-temperature mean and spread over
    hundreds of thousands of spectra is a sum over a few rows: the rows a viewer may see are picked by the same
    rule as the records (`visible_q` on the `spectrum_` and `cell_` columns), embargoes ending included.
    Rewritten with the separator's benchmark entries (`refresh_conductivity_summary`)."""

    separator = models.ForeignKey(Separator, on_delete=models.CASCADE, related_name="conductivity_summaries")
    kind = models.CharField(max_length=15, choices=ConductivityKind.choices)
    temperature_c = models.FloatField()
    spectrum_group = models.ForeignKey(ResearchGroup, on_delete=models.CASCADE, related_name="+", db_index=False)
    spectrum_visibility = models.CharField(max_length=10)
    spectrum_embargo_until = models.DateField(null=True)
    spectrum_created_by_id = models.IntegerField(null=True)
    cell_group = models.ForeignKey(ResearchGroup, on_delete=models.CASCADE, related_name="+", db_index=False)
    cell_visibility = models.CharField(max_length=10)
    cell_embargo_until = models.DateField(null=True)
    cell_created_by_id = models.IntegerField(null=True)
    n = models.IntegerField()
    sigma_sum_s_per_cm = models.FloatField()
    sigma_sum_of_squares = models.FloatField(help_text="Σσ², (S/cm)²: the spread without reading the rows again.")
    stderr_sum_s_per_cm = models.FloatField(null=True, help_text="Σ δσ over the rows that state one (null: none).")

    def __str__(self) -> str:
        return f"{self.separator_id} σ_{self.kind} at {self.temperature_c} °C: {self.n} spectra"


class ArrheniusForm(models.TextChoices):
    SIGMA_T = "sigma_t", "σT = A·exp(−Ea/kT)"
    SIGMA = "sigma", "σ = σ0·exp(−Ea/kT)"
    VTF = "vtf", "VTF: σ = A·T^(−1/2)·exp(−B/(T−T0))"


class ArrheniusFit(models.Model):
    """Temperature dependence of one conductivity kind of a separator, under one protocol."""

    separator = models.ForeignKey(Separator, on_delete=models.CASCADE, related_name="arrhenius_fits")
    protocol = models.ForeignKey(FitProtocol, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=15, choices=ConductivityKind.choices)
    form = models.CharField(max_length=10, choices=ArrheniusForm.choices)
    activation_energy_ev = models.FloatField(null=True, blank=True)
    activation_energy_stderr_ev = models.FloatField(null=True, blank=True)
    prefactor = models.FloatField(null=True, blank=True, help_text="A (S·K/cm) or σ0 (S/cm), by form.")
    vtf_b_k = models.FloatField(null=True, blank=True)
    vtf_t0_k = models.FloatField(null=True, blank=True)
    sigma_25c_s_per_cm = models.FloatField(null=True, blank=True)
    sigma_25c_ci_low_s_per_cm = models.FloatField(null=True, blank=True)
    sigma_25c_ci_high_s_per_cm = models.FloatField(null=True, blank=True)
    temperature_min_c = models.FloatField()
    temperature_max_c = models.FloatField()
    n_points = models.PositiveIntegerField()
    r_squared = models.FloatField(null=True, blank=True)
    extrapolated_25c = models.BooleanField(default=False)
    points = models.JSONField(default=list, help_text="[[temperature_c, σ S/cm, stderr], ...] that were fitted.")
    engine_version = models.CharField(max_length=20)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["separator", "kind", "form"]
        constraints = [
            models.UniqueConstraint(fields=["separator", "protocol", "kind", "form"], name="arrhenius_unique")
        ]

    @property
    def sigma_25c_stderr_s_per_cm(self) -> float | None:
        """δσ(25 °C), S/cm, from the stored 95 % interval (symmetric in ln σ, n − 2 dof): what σ(25 °C) and its
        interval are rounded to on pages and in files. None without an interval."""
        if self.sigma_25c_s_per_cm is None:
            return None
        return eis_derived.stderr_from_log_interval(
            self.sigma_25c_s_per_cm, self.sigma_25c_ci_low_s_per_cm, self.sigma_25c_ci_high_s_per_cm, self.n_points
        )

    def __str__(self) -> str:
        ea = f"{self.activation_energy_ev:.3f} eV" if self.activation_energy_ev is not None else "VTF"
        return f"{self.separator} {self.kind} ({self.form}): {ea}"
