"""Materials, separators, electrodes, interfaces, cells and their sources."""
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from apps.accounts.models import OwnedRecord

FRACTION = [MinValueValidator(0.0), MaxValueValidator(1.0)]


def _positive(field: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gt": 0}), name=name)


def _fraction(field: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True}) | (Q(**{f"{field}__gte": 0}) & Q(**{f"{field}__lte": 1})),
        name=name,
    )


class MaterialFamily(models.TextChoices):
    GARNET = "garnet", "Garnet"
    NASICON = "nasicon", "NASICON"
    PEROVSKITE = "perovskite", "Perovskite"
    ARGYRODITE = "argyrodite", "Argyrodite"
    THIOPHOSPHATE = "thiophosphate", "Thiophosphate"
    HALIDE = "halide", "Halide"
    HYDRIDE = "hydride", "Hydride"
    POLYMER = "polymer", "Polymer"
    OTHER = "other", "Other"


class Material(models.Model):
    """Shared reference data: every user sees every material."""

    name = models.CharField(max_length=200, unique=True)
    formula = models.CharField(max_length=200, blank=True)
    family = models.CharField(max_length=20, choices=MaterialFamily.choices, default=MaterialFamily.OTHER)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.formula})" if self.formula and self.formula != self.name else self.name


class Source(models.Model):
    """The paper (or dataset) a record comes from. Shared reference data."""

    doi = models.CharField(max_length=200, unique=True, null=True, blank=True)
    citation = models.TextField(blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    url = models.URLField(blank=True)

    class Meta:
        ordering = ["-year", "doi"]

    def __str__(self) -> str:
        return self.doi or self.citation[:80] or f"Source {self.pk}"


class ProcessingRoute(models.TextChoices):
    COLD_PRESSING = "cold_pressing", "Cold pressing"
    HOT_PRESSING = "hot_pressing", "Hot pressing"
    SINTERING = "sintering", "Sintering"
    SPARK_PLASMA_SINTERING = "spark_plasma_sintering", "Spark plasma sintering"
    TAPE_CASTING = "tape_casting", "Tape casting"
    SOLUTION_CASTING = "solution_casting", "Solution casting"
    WET_INFILTRATION = "wet_infiltration", "Wet infiltration"
    DRY_MIXING = "dry_mixing", "Dry mixing"
    THIN_FILM_DEPOSITION = "thin_film_deposition", "Thin-film deposition"
    PATTERNING = "patterning", "Patterning"
    OTHER = "other", "Other"


class ThicknessMethod(models.TextChoices):
    MICROMETER = "micrometer", "Micrometer"
    CALIPER = "caliper", "Caliper"
    SEM_CROSS_SECTION = "sem_cross_section", "SEM cross-section"
    PROFILOMETER = "profilometer", "Profilometer"
    DIE_DISPLACEMENT = "die_displacement", "Die displacement under load"
    OTHER = "other", "Other"


class ThicknessMeasuredWhen(models.TextChoices):
    AFTER_DENSIFICATION = "after_densification", "After densification, before assembly"
    IN_CELL_UNDER_PRESSURE = "in_cell_under_pressure", "In the cell, under stack pressure"
    AFTER_MEASUREMENT = "after_measurement", "After the measurement"
    NOMINAL = "nominal", "Nominal (not measured)"


class Separator(OwnedRecord):
    """An electrolyte layer: pellet, sheet or membrane, and how it was made."""

    class Form(models.TextChoices):
        PELLET = "pellet", "Pellet"
        SHEET = "sheet", "Sheet / membrane"
        THIN_FILM = "thin_film", "Thin film"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="separators")
    form = models.CharField(max_length=12, choices=Form.choices, default=Form.PELLET)
    processing_route = models.CharField(max_length=30, choices=ProcessingRoute.choices, blank=True)
    densification_pressure_mpa = models.FloatField(null=True, blank=True)
    densification_temperature_c = models.FloatField(null=True, blank=True)
    densification_hold_time_min = models.FloatField(null=True, blank=True)
    sintering_temperature_c = models.FloatField(null=True, blank=True)
    sintering_time_h = models.FloatField(null=True, blank=True)
    processing_atmosphere = models.CharField(max_length=60, blank=True)
    processing_notes = models.TextField(blank=True)
    thickness_um = models.FloatField(null=True, blank=True, help_text="Separator thickness in µm.")
    thickness_stderr_um = models.FloatField(null=True, blank=True)
    thickness_method = models.CharField(max_length=20, choices=ThicknessMethod.choices, blank=True)
    thickness_measured_when = models.CharField(max_length=30, choices=ThicknessMeasuredWhen.choices, blank=True)
    area_cm2 = models.FloatField(null=True, blank=True, help_text="Geometric area in cm².")
    relative_density = models.FloatField(
        null=True, blank=True, validators=FRACTION, help_text="Relative density, 0–1 (1 − porosity)."
    )
    inorganic_volume_fraction = models.FloatField(
        null=True, blank=True, validators=FRACTION, help_text="Hybrids: volume fraction of the inorganic phase, 0–1."
    )
    infiltration_method = models.CharField(max_length=60, blank=True, help_text="Hybrids: how the phases were combined.")

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            _positive("thickness_um", "separator_thickness_positive"),
            _positive("area_cm2", "separator_area_positive"),
            _fraction("relative_density", "separator_relative_density_fraction"),
            _fraction("inorganic_volume_fraction", "separator_inorganic_fraction"),
            models.CheckConstraint(
                condition=Q(densification_pressure_mpa__isnull=True) | Q(densification_pressure_mpa__gte=0),
                name="separator_densification_pressure_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def porosity(self) -> float | None:
        return None if self.relative_density is None else 1.0 - self.relative_density

    @property
    def primary_material(self):
        """The fast-ion phase, else the first component's material."""
        components = list(self.components.all())
        for component in components:
            if component.role == SeparatorComponent.Role.FAST_ION_PHASE:
                return component.material
        return components[0].material if components else None


class SeparatorComponent(models.Model):
    class Role(models.TextChoices):
        FAST_ION_PHASE = "fast_ion_phase", "Fast-ion phase"
        POLYMER_MATRIX = "polymer_matrix", "Polymer matrix"
        SALT = "salt", "Salt"
        PLASTICISER = "plasticiser", "Plasticiser"
        BINDER = "binder", "Binder"
        FILLER = "filler", "Filler"

    class Basis(models.TextChoices):
        VOLUME = "volume", "Volume fraction"
        WEIGHT = "weight", "Weight fraction"

    separator = models.ForeignKey(Separator, on_delete=models.CASCADE, related_name="components")
    material = models.ForeignKey(Material, on_delete=models.PROTECT, related_name="separator_components")
    role = models.CharField(max_length=20, choices=Role.choices)
    fraction = models.FloatField(null=True, blank=True, validators=FRACTION, help_text="0–1, on the stated basis.")
    fraction_basis = models.CharField(max_length=10, choices=Basis.choices, default=Basis.WEIGHT)

    class Meta:
        ordering = ["separator", "pk"]
        constraints = [_fraction("fraction", "component_fraction_between_0_and_1")]

    def __str__(self) -> str:
        share = f" {self.fraction:.0%} {self.fraction_basis}" if self.fraction is not None else ""
        return f"{self.material.name} ({self.get_role_display()}){share}"


class Electrode(OwnedRecord):
    class Kind(models.TextChoices):
        ANODE = "anode", "Anode"
        CATHODE = "cathode", "Cathode"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    active_material = models.ForeignKey(Material, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    is_metal_foil = models.BooleanField(default=False, help_text="Li or In–Li foil rather than a composite.")
    electrolyte_fraction = models.FloatField(null=True, blank=True, validators=FRACTION)
    carbon_fraction = models.FloatField(null=True, blank=True, validators=FRACTION)
    areal_loading_mg_per_cm2 = models.FloatField(null=True, blank=True)
    thickness_um = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            _fraction("electrolyte_fraction", "electrode_electrolyte_fraction"),
            _fraction("carbon_fraction", "electrode_carbon_fraction"),
            _positive("thickness_um", "electrode_thickness_positive"),
            _positive("areal_loading_mg_per_cm2", "electrode_loading_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class Interface(OwnedRecord):
    """The contact between two layers, how it was prepared and what is known of it."""

    name = models.CharField(max_length=200)
    material_a = models.ForeignKey(Material, on_delete=models.PROTECT, related_name="+", help_text="One side.")
    material_b = models.ForeignKey(Material, on_delete=models.PROTECT, related_name="+", help_text="The other side.")
    interlayer_material = models.ForeignKey(
        Material, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Coating or interlayer."
    )
    interlayer_thickness_nm = models.FloatField(null=True, blank=True)
    coating_method = models.CharField(max_length=80, blank=True, help_text="e.g. ALD, sputtering, sol–gel.")
    polishing = models.CharField(max_length=120, blank=True)
    heat_treatment_temperature_c = models.FloatField(null=True, blank=True)
    heat_treatment_time_min = models.FloatField(null=True, blank=True)
    preparation_atmosphere = models.CharField(max_length=60, blank=True)
    preparation_notes = models.TextField(blank=True)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="interfaces")

    class Meta:
        ordering = ["name", "pk"]
        constraints = [_positive("interlayer_thickness_nm", "interface_interlayer_thickness_positive")]

    def __str__(self) -> str:
        return self.name

    @property
    def cross_validated_assignments(self) -> list[str]:
        """Assigned species backed by two or more independent techniques."""
        techniques: dict[str, set[str]] = {}
        for evidence in self.evidence.all():
            key = evidence.assigned_species.strip().lower()
            if key:
                techniques.setdefault(key, set()).add(evidence.technique)
        return sorted(species for species, found in techniques.items() if len(found) >= 2)


class InterfaceEvidence(models.Model):
    class Technique(models.TextChoices):
        NMR = "nmr", "NMR"
        DFT = "dft", "DFT"
        XPS = "xps", "XPS"
        TOF_SIMS = "tof_sims", "ToF-SIMS"
        TEM = "tem", "TEM / EELS"
        RAMAN = "raman", "Raman"
        XRD = "xrd", "XRD"
        EIS = "eis", "Impedance"
        OTHER = "other", "Other"

    interface = models.ForeignKey(Interface, on_delete=models.CASCADE, related_name="evidence")
    technique = models.CharField(max_length=10, choices=Technique.choices)
    assigned_species = models.CharField(max_length=200, help_text="Species or termination assigned, e.g. Li2CO3.")
    termination = models.CharField(max_length=120, blank=True)
    measured_value = models.FloatField(null=True, blank=True)
    computed_value = models.FloatField(null=True, blank=True)
    value_unit = models.CharField(max_length=30, blank=True, help_text="e.g. ppm, eV, J/m².")
    notes = models.TextField(blank=True)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["interface", "technique", "pk"]
        verbose_name_plural = "interface evidence"

    def __str__(self) -> str:
        return f"{self.get_technique_display()}: {self.assigned_species}"

    @property
    def cross_validated(self) -> bool:
        key = self.assigned_species.strip().lower()
        return key in self.interface.cross_validated_assignments


class Cell(OwnedRecord):
    class Configuration(models.TextChoices):
        BLOCKING = "blocking", "Blocking (SS|SE|SS)"
        SYMMETRIC = "symmetric", "Symmetric (Li|SE|Li)"
        HALF_CELL = "half_cell", "Half cell"
        FULL_CELL = "full_cell", "Full cell"

    class Housing(models.TextChoices):
        DIE = "die", "Pressurised die"
        COIN = "coin", "Coin cell"
        POUCH = "pouch", "Pouch cell"
        SWAGELOK = "swagelok", "Swagelok-type"

    class ElectrodeContact(models.TextChoices):
        AU = "au", "Au (blocking)"
        PT = "pt", "Pt (blocking)"
        STEEL = "steel", "Stainless steel (blocking)"
        CARBON = "carbon", "Carbon (blocking)"
        LI = "li", "Li metal (non-blocking)"
        IN_LI = "in_li", "In–Li (non-blocking)"
        COMPOSITE = "composite", "Composite electrode"

    BLOCKING_CONTACTS = {ElectrodeContact.AU, ElectrodeContact.PT, ElectrodeContact.STEEL, ElectrodeContact.CARBON}

    name = models.CharField(max_length=200)
    configuration = models.CharField(max_length=12, choices=Configuration.choices)
    housing = models.CharField(max_length=10, choices=Housing.choices, blank=True)
    electrode_contact = models.CharField(max_length=10, choices=ElectrodeContact.choices, blank=True)
    separator = models.ForeignKey(Separator, null=True, blank=True, on_delete=models.PROTECT, related_name="cells")
    interfaces = models.ManyToManyField(Interface, blank=True, related_name="cells")
    active_area_cm2 = models.FloatField(null=True, blank=True)
    lead_resistance_ohm = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0)],
        help_text=(
            "Short-circuit resistance of the empty cell (die or holder with the plungers in contact, leads "
            "included), Ω; subtracted from the series resistance before σ is computed."
        ),
    )
    assembled_on = models.DateField(null=True, blank=True)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="cells")
    notes = models.TextField(blank=True)

    # Records a cell may not be more visible than (apps.accounts.references).
    visibility_references = ("separator", "interfaces", "layers__separator", "layers__electrode")

    class Meta:
        ordering = ["name", "pk"]
        constraints = [_positive("active_area_cm2", "cell_active_area_positive")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_configuration_display()})"

    @property
    def measurement_pressure_mpa(self) -> float | None:
        """Stack pressure of the last measurement step of the pressure history."""
        steps = [s for s in self.pressure_steps.all() if s.phase == PressureStep.Phase.MEASUREMENT]
        return steps[-1].pressure_mpa if steps else None


class CellLayer(models.Model):
    """One layer of a cell's stack, bottom (position 0) to top."""

    class Kind(models.TextChoices):
        CURRENT_COLLECTOR = "current_collector", "Current collector"
        ELECTRODE = "electrode", "Electrode"
        SEPARATOR = "separator", "Separator"
        INTERLAYER = "interlayer", "Interlayer"

    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, related_name="layers")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    separator = models.ForeignKey(Separator, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    electrode = models.ForeignKey(Electrode, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    material = models.ForeignKey(Material, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    thickness_um = models.FloatField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["cell", "position"]
        constraints = [
            models.UniqueConstraint(fields=["cell", "position"], name="cell_layer_unique_position"),
            _positive("thickness_um", "cell_layer_thickness_positive"),
        ]

    def __str__(self) -> str:
        what = self.separator or self.electrode or self.material or self.description or self.get_kind_display()
        return f"{self.position}: {what}"


class PressureStep(models.Model):
    """One step of a cell's stack-pressure history, densification to measurement."""

    class Phase(models.TextChoices):
        DENSIFICATION = "densification", "Densification"
        ASSEMBLY = "assembly", "Assembly"
        REST = "rest", "Rest"
        CONDITIONING = "conditioning", "Conditioning"
        MEASUREMENT = "measurement", "Measurement"
        CYCLING = "cycling", "Cycling"

    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, related_name="pressure_steps")
    position = models.PositiveSmallIntegerField()
    phase = models.CharField(max_length=15, choices=Phase.choices)
    pressure_mpa = models.FloatField()
    duration_min = models.FloatField(null=True, blank=True)
    temperature_c = models.FloatField(null=True, blank=True)
    notes = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["cell", "position"]
        constraints = [
            models.UniqueConstraint(fields=["cell", "position"], name="pressure_step_unique_position"),
            models.CheckConstraint(condition=Q(pressure_mpa__gte=0), name="pressure_step_pressure_nonnegative"),
            models.CheckConstraint(
                condition=Q(duration_min__isnull=True) | Q(duration_min__gte=0), name="pressure_step_duration_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_phase_display()} at {self.pressure_mpa:g} MPa"
