"""The demo dataset: three research groups, their separators, cells and measurements.

Everything is written through the catalog and measurement services (the same
path as the web forms and the API) and looked up by natural keys first, so
loading twice creates nothing twice. The impedance spectra are synthetic:
equivalent circuits evaluated with the EIS engine, with element values in the
ranges the literature reports, and 0.4 % seeded noise.

How the numbers are made
------------------------
* Conductivity at temperature T (K) from an Arrhenius law in the σT form,
  σ(T) = (A / T) · exp(−Ea / k_B T), with A chosen so that σ(25 °C) is the
  stated value; for PEO-based separators the Vogel–Tammann–Fulcher law
  σ(T) = A · T^(−1/2) · exp(−B / (T − T0)).
* Resistance from geometry: R = L / (σ · A) with L the thickness (cm) and A
  the area (cm²).
* Each R‖CPE arc gets the capacitance Irvine, Sinclair and West (Adv. Mater.
  1990) list for its origin — bulk ~1e-12–1e-11 F, grain boundary
  ~1e-11–1e-8 F, electrode interface ~1e-7–1e-5 F — converted to the CPE
  prefactor by Brug's relation for R‖CPE, Q = C^n / R^(1−n).
"""
from __future__ import annotations

import datetime
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Membership, ResearchGroup, Visibility
from apps.measurements.models import CriticalCurrentDensityTest, DCPolarisation, ImpedanceSpectrum

from . import services
from .models import Cell, Electrode, Interface, Separator

K_B_EV_PER_K = 8.617333262e-5
NOISE_FRACTION = 0.004
#: Leads and contacts of each demo cell, Ω, in the synthetic spectra and stated on the cell as its measured
#: short-circuit resistance (``Cell.lead_resistance_ohm``), as a lab measures the empty die.
LEAD_RESISTANCE_OHM = {"polymer": 1.5, "cold_pressed": 0.5, "sintered": 2.0, "symmetric": 1.0}
TEMPERATURES_C = (-20.0, 0.0, 25.0, 40.0, 60.0, 80.0)
DEMO_PASSWORD = "demo-password"
GUEST_PASSWORD = "guest-password"

Progress = Callable[[str], None]


# ----------------------------------------------------------------------------- physics of the synthetic spectra


def frequencies_hz(f_max_hz: float = 3e6, f_min_hz: float = 0.1, per_decade: int = 10) -> np.ndarray:
    """A log sweep from f_max down to f_min, as instruments run it."""
    decades = math.log10(f_max_hz / f_min_hz)
    return np.logspace(math.log10(f_max_hz), math.log10(f_min_hz), int(round(decades * per_decade)) + 1)


def arrhenius_sigma(temperature_c: float, sigma_25c_s_per_cm: float, activation_energy_ev: float) -> float:
    """σ(T) in the σT form, scaled so that σ(25 °C) is the given value."""
    t, t25 = temperature_c + 273.15, 298.15
    return sigma_25c_s_per_cm * (t25 / t) * math.exp(-activation_energy_ev / K_B_EV_PER_K * (1 / t - 1 / t25))


def vtf_sigma(temperature_c: float, sigma_25c_s_per_cm: float, b_k: float = 1000.0, t0_k: float = 200.0) -> float:
    """σ(T) = A·T^(−1/2)·exp(−B/(T − T0)), scaled so that σ(25 °C) is the given value."""

    def shape(t: float) -> float:
        return t ** -0.5 * math.exp(-b_k / (t - t0_k))

    return sigma_25c_s_per_cm * shape(temperature_c + 273.15) / shape(298.15)


def resistance_ohm(sigma_s_per_cm: float, thickness_um: float, area_cm2: float) -> float:
    """R = L / (σ·A), L in cm."""
    return (thickness_um * 1e-4) / (sigma_s_per_cm * area_cm2)


def cpe_q(capacitance_f: float, r_ohm: float, n: float) -> float:
    """CPE prefactor giving effective capacitance C with R in parallel (Brug): Q = C^n / R^(1−n)."""
    return capacitance_f**n / r_ohm ** (1 - n)


def noisy(z: np.ndarray, key: str) -> np.ndarray:
    """Z with 0.4 % Gaussian noise proportional to |Z|, seeded by ``key`` (same key, same noise)."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    scale = NOISE_FRACTION * np.abs(z)
    return z + scale * (rng.standard_normal(z.size) + 1j * rng.standard_normal(z.size))


def synthesise(circuit: str, parameters: dict[str, float], key: str, f: np.ndarray | None = None):
    """(frequencies Hz, noisy Z Ω) of an equivalent circuit, evaluated by the EIS engine."""
    from apps.analysis.eis.circuits import circuit_impedance

    f = frequencies_hz() if f is None else f
    return f, noisy(circuit_impedance(circuit, parameters, f), key)


# ----------------------------------------------------------------------------- the dataset


@dataclass(frozen=True)
class SeparatorSpec:
    key: str
    group: str
    name: str
    family_material: str
    fields: dict[str, Any]
    components: list[tuple[str, str, float | None, str]]  # material, role, fraction, basis
    sigma_25c_s_per_cm: float
    activation_energy_ev: float | None  # None: VTF (polymer)
    bulk_share: float  # share of the total resistance in the bulk arc (ceramics)
    cell: dict[str, Any] = field(default_factory=dict)
    pressure_steps: list[dict[str, Any]] = field(default_factory=list)
    source_doi: str | None = None


COLD_PRESSED = {"Li6PS5Cl", "Li3InCl6"}

GROUPS = {
    "oxide-ceramics": ("Oxide Ceramics Lab", "Northfield University", "Garnet and NASICON pellets, sintering, coatings."),
    "sulfide-halide": (
        "Sulfide and Halide Electrolytes Group",
        "Eastbrook Institute of Technology",
        "Cold-pressed argyrodites and chlorides, pressure-controlled cells.",
    ),
    "polymer-hybrid": (
        "Polymer and Hybrid Electrolytes Lab",
        "Westlake University",
        "PEO membranes and polymer/ceramic hybrids.",
    ),
}

RESEARCHERS = {  # username -> (first, last, group slug, role)
    "lena.garnet": ("Lena", "Hoffmann", "oxide-ceramics", Membership.Role.OWNER),
    "tomas.argyro": ("Tomás", "Ribeiro", "sulfide-halide", Membership.Role.OWNER),
    "mei.polymer": ("Mei", "Tanaka", "polymer-hybrid", Membership.Role.OWNER),
    "omar.student": ("Omar", "Haddad", "oxide-ceramics", Membership.Role.MEMBER),
}

MATERIALS = {  # name -> (formula, family)
    "LLZTO": ("Li6.4La3Zr1.4Ta0.6O12", "garnet"),
    "LATP": ("Li1.3Al0.3Ti1.7(PO4)3", "nasicon"),
    "AlPO4": ("AlPO4", "other"),
    "Li6PS5Cl": ("Li6PS5Cl", "argyrodite"),
    "Li3InCl6": ("Li3InCl6", "halide"),
    "PEO": ("(C2H4O)n", "polymer"),
    "LiTFSI": ("LiN(SO2CF3)2", "other"),
    "Li": ("Li", "other"),
    "In-Li": ("In–Li alloy", "other"),
    "Au": ("Au", "other"),
    "Stainless steel": ("Fe–Cr–Ni (316L)", "other"),
}

SOURCES = {  # DOIs of the papers whose reported ranges the synthetic values follow
    "10.1002/anie.200701144": ("R. Murugan, V. Thangadurai, W. Weppner, Angew. Chem. Int. Ed. 46 (2007) 7778.", 2007),
    "10.1149/1.2086597": ("H. Aono, E. Sugimoto, Y. Sadaoka, N. Imanaka, G. Adachi, J. Electrochem. Soc. 137 (1990) 1023.", 1990),
    "10.1021/jacs.7b06327": ("M. A. Kraft et al., J. Am. Chem. Soc. 139 (2017) 10909.", 2017),
}

_SULFIDE_HISTORY = [
    {"phase": "densification", "pressure_mpa": 375.0, "duration_min": 5.0, "temperature_c": 25.0, "notes": "uniaxial, in the die"},
    {"phase": "assembly", "pressure_mpa": 100.0, "duration_min": 2.0, "notes": "electrodes added"},
    {"phase": "measurement", "pressure_mpa": 50.0, "notes": "held by torque-controlled frame"},
]

SEPARATORS = [
    SeparatorSpec(
        key="llzto",
        group="oxide-ceramics",
        name="Ta-doped LLZO pellet (hot-pressed)",
        family_material="LLZTO",
        fields=dict(
            form="pellet", processing_route="hot_pressing", densification_pressure_mpa=40.0,
            densification_temperature_c=1100.0, densification_hold_time_min=60.0, sintering_temperature_c=1100.0,
            sintering_time_h=1.0, processing_atmosphere="argon", thickness_um=850.0, thickness_stderr_um=5.0,
            thickness_method="micrometer", thickness_measured_when="after_densification", area_cm2=0.50,
            relative_density=0.97, visibility=Visibility.PUBLIC,
            processing_notes="Powder from solid-state reaction, 1 wt% excess Li2CO3; polished to 1200 grit before Au sputtering.",
        ),
        components=[("LLZTO", "fast_ion_phase", 1.0, "weight")],
        sigma_25c_s_per_cm=6.0e-4, activation_energy_ev=0.40, bulk_share=0.85,
        cell=dict(name="Au|LLZTO|Au", configuration="blocking", housing="swagelok", electrode_contact="au", active_area_cm2=0.50),
        pressure_steps=[{"phase": "measurement", "pressure_mpa": 5.0, "notes": "spring-loaded"}],
        source_doi="10.1002/anie.200701144",
    ),
    SeparatorSpec(
        key="latp",
        group="oxide-ceramics",
        name="LATP pellet (sintered, uncoated)",
        family_material="LATP",
        fields=dict(
            form="pellet", processing_route="sintering", densification_pressure_mpa=200.0, sintering_temperature_c=900.0,
            sintering_time_h=6.0, processing_atmosphere="air", thickness_um=600.0, thickness_stderr_um=5.0,
            thickness_method="micrometer", thickness_measured_when="after_densification", area_cm2=0.785,
            relative_density=0.93, visibility=Visibility.PUBLIC,
        ),
        components=[("LATP", "fast_ion_phase", 1.0, "weight")],
        sigma_25c_s_per_cm=3.0e-4, activation_energy_ev=0.38, bulk_share=0.35,
        cell=dict(name="Au|LATP|Au", configuration="blocking", housing="coin", electrode_contact="au", active_area_cm2=0.785),
        pressure_steps=[{"phase": "measurement", "pressure_mpa": 1.0, "notes": "coin-cell spring"}],
        source_doi="10.1149/1.2086597",
    ),
    SeparatorSpec(
        key="latp-alpo4",
        group="oxide-ceramics",
        name="LATP pellet with AlPO4 coating",
        family_material="LATP",
        fields=dict(
            form="pellet", processing_route="sintering", densification_pressure_mpa=200.0, sintering_temperature_c=900.0,
            sintering_time_h=6.0, processing_atmosphere="air", thickness_um=610.0, thickness_stderr_um=5.0,
            thickness_method="micrometer", thickness_measured_when="after_densification", area_cm2=0.785,
            relative_density=0.93, visibility=Visibility.PUBLIC,
            processing_notes="Same batch as the uncoated pellet; 10 nm AlPO4 by sol–gel dip coating, annealed 500 °C.",
        ),
        components=[("LATP", "fast_ion_phase", 0.99, "weight"), ("AlPO4", "filler", 0.01, "weight")],
        sigma_25c_s_per_cm=4.5e-4, activation_energy_ev=0.36, bulk_share=0.45,
        cell=dict(name="Au|LATP-AlPO4|Au", configuration="blocking", housing="coin", electrode_contact="au", active_area_cm2=0.785),
        pressure_steps=[{"phase": "measurement", "pressure_mpa": 1.0, "notes": "coin-cell spring"}],
        source_doi="10.1149/1.2086597",
    ),
    SeparatorSpec(
        key="lpscl",
        group="sulfide-halide",
        name="Li6PS5Cl cold-pressed pellet (375 MPa)",
        family_material="Li6PS5Cl",
        fields=dict(
            form="pellet", processing_route="cold_pressing", densification_pressure_mpa=375.0,
            densification_temperature_c=25.0, densification_hold_time_min=5.0, processing_atmosphere="argon",
            thickness_um=700.0, thickness_stderr_um=10.0, thickness_method="die_displacement",
            thickness_measured_when="in_cell_under_pressure", area_cm2=0.785, relative_density=0.82,
            visibility=Visibility.GROUP,
        ),
        components=[("Li6PS5Cl", "fast_ion_phase", 1.0, "weight")],
        sigma_25c_s_per_cm=2.0e-3, activation_energy_ev=0.33, bulk_share=0.8,
        cell=dict(name="SS|Li6PS5Cl|SS (die)", configuration="blocking", housing="die", electrode_contact="steel", active_area_cm2=0.785),
        pressure_steps=_SULFIDE_HISTORY,
        source_doi="10.1021/jacs.7b06327",
    ),
    SeparatorSpec(
        key="lpscl-500",
        group="sulfide-halide",
        name="Li6PS5Cl pellet, 500 MPa (unpublished)",
        family_material="Li6PS5Cl",
        fields=dict(
            form="pellet", processing_route="cold_pressing", densification_pressure_mpa=500.0,
            densification_temperature_c=25.0, densification_hold_time_min=10.0, processing_atmosphere="argon",
            thickness_um=640.0, thickness_method="die_displacement", thickness_measured_when="in_cell_under_pressure",
            area_cm2=0.785, relative_density=0.88, visibility=Visibility.PRIVATE,
        ),
        components=[("Li6PS5Cl", "fast_ion_phase", 1.0, "weight")],
        sigma_25c_s_per_cm=2.8e-3, activation_energy_ev=0.32, bulk_share=0.85,
        cell=dict(name="SS|Li6PS5Cl-500|SS (die)", configuration="blocking", housing="die", electrode_contact="steel", active_area_cm2=0.785),
        pressure_steps=[
            {"phase": "densification", "pressure_mpa": 500.0, "duration_min": 10.0, "temperature_c": 25.0},
            {"phase": "measurement", "pressure_mpa": 100.0},
        ],
    ),
    SeparatorSpec(
        key="lic",
        group="sulfide-halide",
        name="Li3InCl6 cold-pressed pellet",
        family_material="Li3InCl6",
        fields=dict(
            form="pellet", processing_route="cold_pressing", densification_pressure_mpa=400.0,
            densification_temperature_c=25.0, densification_hold_time_min=5.0, processing_atmosphere="argon",
            thickness_um=550.0, thickness_stderr_um=10.0, thickness_method="die_displacement",
            thickness_measured_when="in_cell_under_pressure", area_cm2=0.785, relative_density=0.86,
            visibility=Visibility.PUBLIC,
            processing_notes="Water-mediated synthesis, dried at 200 °C under vacuum.",
        ),
        components=[("Li3InCl6", "fast_ion_phase", 1.0, "weight")],
        sigma_25c_s_per_cm=1.0e-3, activation_energy_ev=0.34, bulk_share=0.75,
        cell=dict(name="SS|Li3InCl6|SS (die)", configuration="blocking", housing="die", electrode_contact="steel", active_area_cm2=0.785),
        pressure_steps=[
            {"phase": "densification", "pressure_mpa": 400.0, "duration_min": 5.0, "temperature_c": 25.0},
            {"phase": "measurement", "pressure_mpa": 70.0},
        ],
    ),
    SeparatorSpec(
        key="peo",
        group="polymer-hybrid",
        name="PEO–LiTFSI membrane (EO:Li 20:1)",
        family_material="PEO",
        fields=dict(
            form="sheet", processing_route="solution_casting", processing_atmosphere="dry_air",
            thickness_um=80.0, thickness_stderr_um=3.0, thickness_method="micrometer",
            thickness_measured_when="after_measurement", area_cm2=1.13, visibility=Visibility.PUBLIC,
            processing_notes="Cast from acetonitrile, dried 48 h at 60 °C under vacuum.",
        ),
        components=[("PEO", "polymer_matrix", 0.74, "weight"), ("LiTFSI", "salt", 0.26, "weight")],
        sigma_25c_s_per_cm=3.0e-5, activation_energy_ev=None, bulk_share=1.0,
        cell=dict(name="SS|PEO-LiTFSI|SS (pouch)", configuration="blocking", housing="pouch", electrode_contact="steel", active_area_cm2=1.13),
        pressure_steps=[{"phase": "measurement", "pressure_mpa": 1.0}],
    ),
    SeparatorSpec(
        key="hybrid-wet",
        group="polymer-hybrid",
        name="PEO/LLZTO hybrid, wet infiltration",
        family_material="LLZTO",
        fields=dict(
            form="sheet", processing_route="wet_infiltration", processing_atmosphere="dry_air",
            thickness_um=95.0, thickness_stderr_um=4.0, thickness_method="sem_cross_section",
            thickness_measured_when="after_measurement", area_cm2=1.13, inorganic_volume_fraction=0.5,
            infiltration_method="wet infiltration of a porous LLZTO scaffold",
            processing_notes="Tape-cast LLZTO scaffold (50 % porous) infiltrated with PEO–LiTFSI in acetonitrile.",
            visibility=Visibility.PUBLIC,
        ),
        components=[
            ("LLZTO", "fast_ion_phase", 0.5, "volume"),
            ("PEO", "polymer_matrix", 0.38, "volume"),
            ("LiTFSI", "salt", 0.12, "volume"),
        ],
        sigma_25c_s_per_cm=1.5e-4, activation_energy_ev=None, bulk_share=1.0,
        cell=dict(name="SS|hybrid-wet|SS (pouch)", configuration="blocking", housing="pouch", electrode_contact="steel", active_area_cm2=1.13),
        pressure_steps=[{"phase": "measurement", "pressure_mpa": 1.0}],
    ),
    SeparatorSpec(
        key="hybrid-dry",
        group="polymer-hybrid",
        name="PEO/LLZTO hybrid, dry mixing",
        family_material="LLZTO",
        fields=dict(
            form="sheet", processing_route="dry_mixing", processing_atmosphere="dry_air",
            thickness_um=90.0, thickness_stderr_um=4.0, thickness_method="sem_cross_section",
            thickness_measured_when="after_measurement", area_cm2=1.13, inorganic_volume_fraction=0.5,
            infiltration_method="dry mixing, hot-rolled",
            processing_notes="LLZTO powder ball-milled with PEO and LiTFSI, then hot-rolled at 80 °C.",
            visibility=Visibility.PUBLIC,
        ),
        components=[
            ("LLZTO", "fast_ion_phase", 0.5, "volume"),
            ("PEO", "polymer_matrix", 0.38, "volume"),
            ("LiTFSI", "salt", 0.12, "volume"),
        ],
        sigma_25c_s_per_cm=5.0e-5, activation_energy_ev=None, bulk_share=1.0,
        cell=dict(name="SS|hybrid-dry|SS (pouch)", configuration="blocking", housing="pouch", electrode_contact="steel", active_area_cm2=1.13),
        pressure_steps=[{"phase": "measurement", "pressure_mpa": 1.0}],
    ),
]


@dataclass(frozen=True)
class SymmetricSpec:
    """A non-blocking cell whose interface resistance grows with time or cycles."""

    separator_key: str
    name: str
    electrode: str  # "Li" or "In-Li"
    interface_name: str
    interface_asr_ohm_cm2: float  # at the first measurement
    growth_per_step: float  # relative growth of the interface resistance per step
    steps: tuple[float, ...]
    step_kind: str  # "elapsed_time_h" or "cycle_index"
    housing: str
    pressure_steps: list[dict[str, Any]]
    visibility: str | None = None


SYMMETRIC_CELLS = [
    SymmetricSpec(
        "llzto", "Li|LLZTO|Li", "Li", "Li|LLZTO (polished, 400 °C Ar anneal)", 25.0, 0.10,
        (0.0, 12.0, 24.0, 48.0, 96.0, 168.0), "elapsed_time_h", "swagelok",
        [{"phase": "assembly", "pressure_mpa": 5.0, "temperature_c": 175.0, "duration_min": 30.0, "notes": "Li melted onto the pellet"},
         {"phase": "measurement", "pressure_mpa": 5.0}],
    ),
    SymmetricSpec(
        "latp", "Li|LATP|Li", "Li", "Li|LATP (uncoated)", 60.0, 0.45,
        (1.0, 2.0, 5.0, 10.0, 20.0, 50.0), "cycle_index", "coin",
        [{"phase": "measurement", "pressure_mpa": 1.0}],
    ),
    SymmetricSpec(
        "latp-alpo4", "Li|AlPO4-LATP|Li", "Li", "Li|AlPO4|LATP (10 nm sol–gel coating)", 45.0, 0.06,
        (1.0, 2.0, 5.0, 10.0, 20.0, 50.0), "cycle_index", "coin",
        [{"phase": "measurement", "pressure_mpa": 1.0}],
    ),
    SymmetricSpec(
        "lpscl", "In–Li|Li6PS5Cl|In–Li", "In-Li", "In–Li|Li6PS5Cl", 15.0, 0.12,
        (1.0, 5.0, 10.0, 20.0, 50.0, 100.0), "cycle_index", "die",
        [{"phase": "densification", "pressure_mpa": 375.0, "duration_min": 5.0},
         {"phase": "assembly", "pressure_mpa": 100.0},
         {"phase": "measurement", "pressure_mpa": 10.0},
         {"phase": "cycling", "pressure_mpa": 10.0}],
    ),
]

# Interface evidence: (technique, species, measured, computed, unit, notes)
INTERFACE_EVIDENCE = {
    "Li|AlPO4|LATP (10 nm sol–gel coating)": [
        ("nmr", "Li3PO4-like interphase", 9.4, None, "ppm", "31P MAS NMR of the cycled interface."),
        ("dft", "Li3PO4-like interphase", None, 9.1, "ppm", "GIPAW shift of a lithiated AlPO4 slab."),
        ("xps", "Al–O–P termination", 74.6, None, "eV", "Al 2p binding energy."),
    ],
    "Li|LATP (uncoated)": [
        ("xps", "Ti3+ (reduced LATP)", 457.2, None, "eV", "Ti 2p3/2 shoulder after 10 cycles."),
        ("tof_sims", "Ti3+ (reduced LATP)", None, None, "", "TiO− depth profile into the pellet."),
    ],
    "Li|LLZTO (polished, 400 °C Ar anneal)": [
        ("xps", "Li2CO3", 289.8, None, "eV", "C 1s; mostly removed by the anneal."),
        ("nmr", "Li2CO3", 0.0, None, "ppm", "6Li MAS NMR, weak."),
    ],
}


@dataclass
class DemoResult:
    created: dict[str, int] = field(default_factory=dict)
    spectrum_ids: list[int] = field(default_factory=list)
    separator_ids: list[int] = field(default_factory=list)
    cell_ids: list[int] = field(default_factory=list)

    def count(self, what: str, n: int = 1) -> None:
        self.created[what] = self.created.get(what, 0) + n


# ----------------------------------------------------------------------------- loading


def default_instrument_files_dir() -> Path:
    return Path(getattr(settings, "DEMO_INSTRUMENT_FILES", Path(settings.BASE_DIR).parent / "shared" / "data" / "instrument-files"))


def _users(result: DemoResult) -> tuple[Any, dict[str, ResearchGroup]]:
    User = get_user_model()
    groups = {}
    for slug, (name, institution, description) in GROUPS.items():
        group, made = ResearchGroup.objects.get_or_create(
            slug=slug, defaults={"name": name, "institution": institution, "description": description}
        )
        groups[slug] = group
        if made:
            result.count("research groups")
    demo, made = User.objects.get_or_create(
        username="demo", defaults={"email": "demo@example.org", "first_name": "Demo", "last_name": "User"}
    )
    if made:
        demo.set_password(DEMO_PASSWORD)
        demo.is_superuser = demo.is_staff = True
        demo.save()
        result.count("users")
    guest, made = User.objects.get_or_create(username="guest", defaults={"email": "guest@example.org"})
    if made:
        guest.set_password(GUEST_PASSWORD)
        guest.save()
        result.count("users")
    for group in groups.values():
        _, made = Membership.objects.get_or_create(user=demo, group=group, defaults={"role": Membership.Role.OWNER})
        result.count("memberships", int(made))
    for username, (first, last, slug, role) in RESEARCHERS.items():
        user, made = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"}
        )
        if made:
            user.set_password(DEMO_PASSWORD)
            user.save()
            result.count("users")
        _, made = Membership.objects.get_or_create(user=user, group=groups[slug], defaults={"role": role})
        result.count("memberships", int(made))
    return demo, groups


def _owned(model, group: ResearchGroup, name: str):
    return model.objects.filter(group=group, name=name).first()


def _separator(spec: SeparatorSpec, *, user, group, result: DemoResult, embargo_until) -> Separator:
    existing = _owned(Separator, group, spec.name)
    if existing is not None:
        return existing
    fields = dict(spec.fields)
    if spec.source_doi:
        citation, year = SOURCES[spec.source_doi]
        fields["source"] = services.get_or_create_source(doi=spec.source_doi, citation=citation, year=year)
    if spec.key == "lic":
        fields["embargo_until"] = embargo_until  # public once the paper is out
    components = [
        {"material": services.get_or_create_material(name=m, formula=MATERIALS[m][0], family=MATERIALS[m][1]),
         "role": role, "fraction": fraction, "fraction_basis": basis}
        for m, role, fraction, basis in spec.components
    ]
    separator = services.create_separator(user=user, group=group, components=components, name=spec.name, **fields)
    result.count("separators")
    return separator


def _material(name: str):
    return services.get_or_create_material(name=name, formula=MATERIALS[name][0], family=MATERIALS[name][1])


def _blocking_cell(spec: SeparatorSpec, separator: Separator, *, user, group, result: DemoResult) -> Cell:
    existing = _owned(Cell, group, spec.cell["name"])
    if existing is not None:
        return existing
    contact = {"au": "Au", "steel": "Stainless steel"}[spec.cell["electrode_contact"]]
    collector = {"kind": "current_collector", "material": _material(contact)}
    if contact == "Au":
        collector["thickness_um"] = 0.1
        collector["description"] = "sputtered Au, 100 nm"
    cell = services.create_cell(
        user=user,
        group=group,
        layers=[collector, {"kind": "separator", "separator": separator, "thickness_um": separator.thickness_um}, dict(collector)],
        pressure_steps=spec.pressure_steps,
        separator=separator,
        source=separator.source,
        visibility=separator.visibility,
        embargo_until=separator.embargo_until,
        assembled_on=datetime.date(2026, 3, 2),
        lead_resistance_ohm=LEAD_RESISTANCE_OHM[_lead_kind(spec)],
        **{k: v for k, v in spec.cell.items()},
    )
    result.count("cells")
    return cell


def _lead_kind(spec: SeparatorSpec) -> str:
    if spec.activation_energy_ev is None:
        return "polymer"
    return "cold_pressed" if spec.family_material in COLD_PRESSED else "sintered"


def _blocking_series(spec: SeparatorSpec, cell: Cell, *, user, result: DemoResult) -> None:
    """Temperature series −20 … 80 °C of a blocking cell."""
    have = set(cell.spectra.values_list("label", flat=True))
    items = []
    for index, temperature_c in enumerate(TEMPERATURES_C):
        label = f"{cell.name} at {temperature_c:g} °C"
        if label in have:
            continue
        thickness_um, area_cm2 = spec.fields["thickness_um"], spec.fields["area_cm2"]
        if spec.activation_energy_ev is None:
            sigma = vtf_sigma(temperature_c, spec.sigma_25c_s_per_cm)
            r_total = resistance_ohm(sigma, thickness_um, area_cm2)
            # Geometric capacitance of the sheet, ε_r ≈ 8 for PEO-based membranes.
            c_bulk = 8 * 8.854e-14 * area_cm2 / (thickness_um * 1e-4)
            circuit = "R0-p(R1,CPE1)-CPE2"
            parameters = {
                "R0": LEAD_RESISTANCE_OHM["polymer"], "R1": r_total, "CPE1_Q": cpe_q(c_bulk, r_total, 0.9), "CPE1_n": 0.9,
                "CPE2_Q": 4e-6 * area_cm2, "CPE2_n": 0.85,
            }
        elif spec.family_material in COLD_PRESSED:
            # Bulk arc far above the top frequency: bulk is the intercept (with ~0.5 Ω of leads),
            # grain boundaries a depressed arc at the top of the window.
            sigma = arrhenius_sigma(temperature_c, spec.sigma_25c_s_per_cm, spec.activation_energy_ev)
            r_total = resistance_ohm(sigma, thickness_um, area_cm2)
            r_bulk, r_gb = spec.bulk_share * r_total, (1 - spec.bulk_share) * r_total
            circuit = "R0-p(R1,CPE1)-CPE2"
            parameters = {
                "R0": LEAD_RESISTANCE_OHM["cold_pressed"] + r_bulk, "R1": r_gb, "CPE1_Q": cpe_q(1e-8, r_gb, 0.9), "CPE1_n": 0.9,
                "CPE2_Q": 5e-6 * area_cm2, "CPE2_n": 0.85,
            }
        else:
            sigma = arrhenius_sigma(temperature_c, spec.sigma_25c_s_per_cm, spec.activation_energy_ev)
            r_total = resistance_ohm(sigma, thickness_um, area_cm2)
            r_bulk, r_gb = spec.bulk_share * r_total, (1 - spec.bulk_share) * r_total
            circuit = "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"
            parameters = {
                "R0": LEAD_RESISTANCE_OHM["sintered"], "R1": r_bulk, "CPE1_Q": cpe_q(8e-12, r_bulk, 0.95), "CPE1_n": 0.95,
                "R2": r_gb, "CPE2_Q": cpe_q(2e-9, r_gb, 0.85), "CPE2_n": 0.85,
                "CPE3_Q": 3e-6 * area_cm2, "CPE3_n": 0.8,
            }
        top_hz = 7e6 if spec.family_material in COLD_PRESSED else 3e6
        f, z = synthesise(circuit, parameters, key=label, f=frequencies_hz(top_hz, 0.1))
        items.append({
            "frequencies_hz": f.tolist(), "z_real_ohm": z.real.tolist(), "z_imag_ohm": z.imag.tolist(),
            "label": label, "temperature_c": temperature_c, "equilibration_time_min": 60.0,
            "atmosphere": "argon" if cell.housing == "die" else "sealed", "ac_amplitude_mv": 10.0, "dc_bias_v": 0.0,
            "mode": "potentiostatic", "instrument": "BioLogic MTZ-35 (synthetic demo data)",
            "measured_at": datetime.datetime(2026, 3, 3, 8, 0, tzinfo=datetime.timezone.utc) + datetime.timedelta(hours=3 * index),
            "metadata": {"synthetic": True, "circuit": circuit, "true_parameters": parameters,
                         "true_conductivity_s_per_cm": sigma},
        })
    _store_series(cell, items, user=user, result=result)


def _store_series(cell: Cell, items: list[dict[str, Any]], *, user, result: DemoResult) -> None:
    from apps.measurements.services import create_spectra_from_arrays

    if items:
        created = create_spectra_from_arrays(cell=cell, user=user, spectra=items, analyse=False)
        result.count("spectra", len(created))


def _electrode(name: str, *, user, group, result: DemoResult) -> Electrode:
    label = {"Li": "Li foil, 100 µm", "In-Li": "In–Li alloy foil"}[name]
    existing = _owned(Electrode, group, label)
    if existing is not None:
        return existing
    electrode = services.create_electrode(
        user=user, group=group, name=label, kind="anode", active_material=_material(name), is_metal_foil=True,
        thickness_um=100.0 if name == "Li" else 50.0, visibility=Visibility.PUBLIC,
    )
    result.count("electrodes")
    return electrode


def _interface(spec: SymmetricSpec, separator: Separator, *, user, group, result: DemoResult) -> Interface:
    existing = _owned(Interface, group, spec.interface_name)
    if existing is not None:
        return existing
    coated = "AlPO4" in spec.interface_name
    evidence = [
        {"technique": t, "assigned_species": species, "measured_value": measured, "computed_value": computed,
         "value_unit": unit, "notes": notes}
        for t, species, measured, computed, unit, notes in INTERFACE_EVIDENCE.get(spec.interface_name, [])
    ]
    interface = services.create_interface(
        user=user,
        group=group,
        evidence=evidence,
        name=spec.interface_name,
        material_a=_material(spec.electrode),
        material_b=separator.primary_material,
        interlayer_material=_material("AlPO4") if coated else None,
        interlayer_thickness_nm=10.0 if coated else None,
        coating_method="sol–gel dip coating" if coated else "",
        polishing="SiC paper to 1200 grit, then 1 µm diamond" if separator.form == "pellet" else "",
        heat_treatment_temperature_c=400.0 if spec.separator_key == "llzto" else None,
        heat_treatment_time_min=60.0 if spec.separator_key == "llzto" else None,
        preparation_atmosphere="argon",
        visibility=separator.visibility,
        embargo_until=separator.embargo_until,
    )
    result.count("interfaces")
    return interface


def _symmetric_cell(spec: SymmetricSpec, separator: Separator, *, user, group, result: DemoResult) -> Cell:
    existing = _owned(Cell, group, spec.name)
    if existing is not None:
        return existing
    electrode = _electrode(spec.electrode, user=user, group=group, result=result)
    interface = _interface(spec, separator, user=user, group=group, result=result)
    layers = [
        {"kind": "electrode", "electrode": electrode},
        {"kind": "separator", "separator": separator, "thickness_um": separator.thickness_um},
        {"kind": "electrode", "electrode": electrode},
    ]
    if "AlPO4" in spec.name:
        coating = {"kind": "interlayer", "material": _material("AlPO4"), "thickness_um": 0.01, "description": "AlPO4 coating"}
        layers = [layers[0], coating, layers[1], dict(coating), layers[2]]
    cell = services.create_cell(
        user=user, group=group, layers=layers, pressure_steps=spec.pressure_steps, interfaces=[interface],
        name=spec.name, configuration="symmetric", housing=spec.housing,
        electrode_contact="li" if spec.electrode == "Li" else "in_li", separator=separator,
        active_area_cm2=separator.area_cm2, visibility=separator.visibility, embargo_until=separator.embargo_until,
        assembled_on=datetime.date(2026, 3, 9), lead_resistance_ohm=LEAD_RESISTANCE_OHM["symmetric"],
    )
    result.count("cells")
    return cell


def _symmetric_series(spec: SymmetricSpec, sep_spec: SeparatorSpec, cell: Cell, *, user, result: DemoResult) -> None:
    """Impedance of a symmetric cell over time or cycles at 25 °C: the interface arc grows."""
    have = set(cell.spectra.values_list("label", flat=True))
    area_cm2 = sep_spec.fields["area_cm2"]
    r_separator = resistance_ohm(
        arrhenius_sigma(25.0, sep_spec.sigma_25c_s_per_cm, sep_spec.activation_energy_ev),
        sep_spec.fields["thickness_um"], area_cm2,
    )
    items = []
    for index, step in enumerate(spec.steps):
        what = f"{step:g} h" if spec.step_kind == "elapsed_time_h" else f"cycle {int(step)}"
        label = f"{cell.name}, {what}"
        if label in have:
            continue
        # Two interface processes (two electrodes' SEI and charge transfer) growing by a fixed share per step.
        r_interface = spec.interface_asr_ohm_cm2 / area_cm2 * (1 + spec.growth_per_step) ** index
        r1, r2 = 0.7 * r_interface, 0.3 * r_interface
        parameters = {
            "L0": 2e-7, "R0": r_separator + LEAD_RESISTANCE_OHM["symmetric"],
            "R1": r1, "CPE1_Q": cpe_q(5e-7 * area_cm2, r1, 0.9), "CPE1_n": 0.9,
            "R2": r2, "CPE2_Q": cpe_q(2e-5 * area_cm2, r2, 0.8), "CPE2_n": 0.8,
        }
        circuit = "L0-R0-p(R1,CPE1)-p(R2,CPE2)"
        f, z = synthesise(circuit, parameters, key=label, f=frequencies_hz(1e6, 0.05))
        conditions: dict[str, Any] = {
            "label": label, "temperature_c": 25.0, "atmosphere": "argon", "ac_amplitude_mv": 10.0,
            "mode": "potentiostatic", "instrument": "Gamry Interface 1010E (synthetic demo data)",
            "measured_at": datetime.datetime(2026, 3, 10, 9, 0, tzinfo=datetime.timezone.utc) + datetime.timedelta(hours=6 * index),
        }
        if spec.step_kind == "elapsed_time_h":
            conditions["elapsed_time_h"] = step
        else:
            conditions["cycle_index"] = int(step)
        items.append({
            "frequencies_hz": f.tolist(), "z_real_ohm": z.real.tolist(), "z_imag_ohm": z.imag.tolist(), **conditions,
            "metadata": {"synthetic": True, "circuit": circuit, "true_parameters": parameters,
                         "interface_asr_ohm_cm2": r_interface * area_cm2},
        })
    _store_series(cell, items, user=user, result=result)


def _other_measurements(cells: dict[str, Cell], separators: dict[str, Separator], *, user, result: DemoResult) -> None:
    from apps.measurements.services import create_ccd_test, create_dc_polarisation

    blocking = cells["lpscl"]
    if not DCPolarisation.objects.filter(cell=blocking).exists():
        # σ_e ≈ 2e-9 S/cm → I_ss = σ_e · A · ΔV / L
        thickness_cm = separators["lpscl"].thickness_um * 1e-4
        create_dc_polarisation(
            cell=blocking, user=user, voltage_v=0.5, steady_current_a=2e-9 * separators["lpscl"].area_cm2 * 0.5 / thickness_cm,
            initial_current_a=4.1e-7, duration_h=10.0, temperature_c=25.0, stack_pressure_mpa=50.0,
            measured_at=datetime.datetime(2026, 3, 5, 10, 0, tzinfo=datetime.timezone.utc),
        )
        result.count("DC polarisations")
    symmetric = cells["Li|LLZTO|Li"]
    if not CriticalCurrentDensityTest.objects.filter(cell=symmetric).exists():
        create_ccd_test(
            cell=symmetric, user=user, temperature_c=25.0, stack_pressure_mpa=5.0, initial_current_density_ma_per_cm2=0.05,
            step_ma_per_cm2=0.05, capacity_per_half_cycle_mah_per_cm2=0.05, half_cycle_duration_h=1.0,
            failure_rule=CriticalCurrentDensityTest.FailureRule.VOLTAGE_DROP, critical_current_density_ma_per_cm2=0.55,
            measured_at=datetime.datetime(2026, 3, 20, 9, 0, tzinfo=datetime.timezone.utc),
        )
        result.count("CCD tests")
    sulfide = cells["In–Li|Li6PS5Cl|In–Li"]
    if not CriticalCurrentDensityTest.objects.filter(cell=sulfide).exists():
        create_ccd_test(
            cell=sulfide, user=user, temperature_c=25.0, stack_pressure_mpa=10.0, initial_current_density_ma_per_cm2=0.1, step_ma_per_cm2=0.1,
            capacity_per_half_cycle_mah_per_cm2=0.1, failure_rule=CriticalCurrentDensityTest.FailureRule.VOLTAGE_LIMIT,
            failure_voltage_limit_v=1.0, critical_current_density_ma_per_cm2=1.1,
            measured_at=datetime.datetime(2026, 3, 22, 9, 0, tzinfo=datetime.timezone.utc),
        )
        result.count("CCD tests")


INSTRUMENT_CELL_NAME = "Instrument-file examples (impedance.py test data)"


def _instrument_files(folder: Path, *, user, group, result: DemoResult, progress: Progress) -> None:
    """Attach the real instrument exports to one cell, through the ingest service."""
    from apps.measurements.services import ingest_paths

    if not folder.is_dir():
        progress(f"  instrument files: {folder} not found, skipped")
        return
    cell = _owned(Cell, group, INSTRUMENT_CELL_NAME)
    if cell is None:
        cell = services.create_cell(
            user=user, group=group, layers=[], pressure_steps=[], name=INSTRUMENT_CELL_NAME,
            configuration="blocking", visibility=Visibility.PUBLIC,
            notes="Real exports of common potentiostats (the example data of impedance.py, MIT licence), kept to "
            "show every supported format; the samples behind them are not ASSB separators.",
        )
        result.count("cells")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() not in {".md"} and not p.name.startswith("LICENSE"))

    def report(done: int, total: int, outcome) -> None:
        detail = f"{len(outcome.spectra)} spectrum" if outcome.status != "rejected" else outcome.reason
        progress(f"  instrument files [{done}/{total}] {outcome.name}: {outcome.status} ({detail})")

    bulk = ingest_paths(cell=cell, paths=paths, user=user, analyse=False, on_progress=report)
    for outcome in bulk.accepted:
        result.count("spectra", len(outcome.spectra))
        result.count("raw files")
    result.cell_ids.append(cell.pk)


def load_demo(*, instrument_files: Path | None = None, progress: Progress = lambda line: None) -> DemoResult:
    """Load (or complete) the demo dataset; returns what was created this time and what to analyse."""
    result = DemoResult()
    today = timezone.localdate()
    with transaction.atomic():
        demo, groups = _users(result)
        progress(f"Users and groups: demo/{DEMO_PASSWORD} (superuser), guest/{GUEST_PASSWORD} (no group), {len(groups)} groups")
        for name in MATERIALS:
            _material(name)
        separators: dict[str, Separator] = {}
        cells: dict[str, Cell] = {}
        specs = {spec.key: spec for spec in SEPARATORS}
        for done, spec in enumerate(SEPARATORS, start=1):
            group = groups[spec.group]
            separator = _separator(spec, user=demo, group=group, result=result, embargo_until=today + datetime.timedelta(days=180))
            cell = _blocking_cell(spec, separator, user=demo, group=group, result=result)
            _blocking_series(spec, cell, user=demo, result=result)
            separators[spec.key], cells[spec.key] = separator, cell
            progress(f"  separators [{done}/{len(SEPARATORS)}] {separator.name}: {cell.spectra.count()} spectra")
        for done, sym in enumerate(SYMMETRIC_CELLS, start=1):
            separator = separators[sym.separator_key]
            cell = _symmetric_cell(sym, separator, user=demo, group=separator.group, result=result)
            _symmetric_series(sym, specs[sym.separator_key], cell, user=demo, result=result)
            cells[sym.name] = cell
            progress(f"  symmetric cells [{done}/{len(SYMMETRIC_CELLS)}] {cell.name}: {cell.spectra.count()} spectra")
        _other_measurements(cells, separators, user=demo, result=result)
        progress("  DC polarisation and critical-current-density tests")
    _instrument_files(
        instrument_files or default_instrument_files_dir(), user=demo, group=groups["oxide-ceramics"], result=result,
        progress=progress,
    )
    result.separator_ids = sorted(s.pk for s in separators.values())
    result.cell_ids = sorted({c.pk for c in cells.values()} | set(result.cell_ids))
    result.spectrum_ids = list(
        ImpedanceSpectrum.objects.filter(cell_id__in=result.cell_ids).order_by("pk").values_list("pk", flat=True)
    )
    return result
