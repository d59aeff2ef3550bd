"""The standard fit protocols and the rule that picks one for a spectrum.

Every spectrum is fitted by exactly one standard protocol, so that numbers
from different labs are obtained the same way. The protocols are shipped by
the data migration ``0003_standard_protocols`` (version 1 of each name); a
change is a new version (``services.create_protocol_version``) and the
newest standard version of a name is the one in force.

The rule (``select_standard_protocol_name``), in order:

1. Symmetric cell (Li|SE|Li, In–Li|SE|In–Li) → ``SYMMETRIC_LI_CELL``:
   ``L0-R0-p(R1,CPE1)-p(R2,CPE2)``. The high-frequency intercept R0 is the
   whole separator (bulk and grain boundaries are not resolved next to the
   much larger interface arcs); R1 and R2 are the two interface arcs.
2. Half or full cell → ``CELL_WITH_ELECTRODES``:
   ``L0-R0-p(R1,CPE1)-p(R2,CPE2)-CPE3``: separator R0, two interface /
   charge-transfer arcs, CPE3 the blocking or diffusion tail of the
   composite electrode.
3. Blocking cell (or configuration not stated) with a polymer or hybrid
   separator — any component with the polymer-matrix role or a polymer
   material — → ``HYBRID_OR_POLYMER``: ``R0-p(R1,CPE1)-CPE2``. The arcs
   of the phases and of their interfaces overlap, so only the total ionic
   resistance R0 + R1 (the intercept where the electrode spike begins) is
   reported; no bulk / grain-boundary split is claimed.
4. Blocking cell with a ceramic / glass separator: the spectrum's shape
   decides (``spectrum_shape``).

   * The top of the spectrum is still falling towards lower frequency —
     −Z'' is largest at the highest measured frequency — so the apex of
     the bulk arc lies beyond the window; or only one arc is seen and it
     starts from an offset larger than a tenth of its width (an unresolved
     bulk arc, not lead resistance); or no arc apex is inside the window
     at all (only an offset and the electrode spike, as in a hot sulfide
     pellet): → ``BLOCKING_PELLET_BULK_BEYOND``,
     ``R0-p(R1,CPE1)-CPE2`` with R0 the bulk, R1 the grain boundaries.
   * Otherwise (the bulk apex is inside the window) → ``BLOCKING_PELLET``,
     ``R0-p(R1,CPE1)-p(R2,CPE2)-CPE3``: R0 leads, R1 bulk, R2 grain
     boundary, CPE3 the blocking electrode.

In every protocol the R‖CPE blocks are numbered by increasing time constant
after the fit (the fit itself cannot tell two identical blocks apart), so
R1 is always the faster (higher-frequency) arc.

The shape rule of 4. only gives the first guess: the two pellet protocols form
one model family (``MODEL_FAMILIES``), both are fitted and the one with the
lower BIC on the same weighting is kept (``services.model_choice``); across a
cell's temperature (or pressure) series one family member is used at every
point unless the evidence for a change is very strong
(``eis.model_choice.choose_series_model``).

Conductivity kinds from ``element_roles``: bulk = Σ R with role "bulk",
grain boundary = Σ R with role "grain_boundary", total = bulk + grain
boundary + Σ R with role "total". Two readings of the fitted values adjust
this (``eis.interpretation.interpret_fit``, each flagged on the fit):

* an R‖CPE arc whose apex lies where the electrode element's |Z| exceeds the
  arc's R is buried under the spike (not determined by the data) and counts
  in no conductivity (``arc_hidden_under_electrode_spike``);
* in the bulk-beyond layout, an arc with a bulk capacitance is the bulk (the
  tail of a bulk arc near the top of the window), and the intercept is
  leads when under a tenth of it, else bulk too
  (``roles_reassigned_by_capacitance``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCKING_PELLET = "Blocking pellet"
BLOCKING_PELLET_BULK_BEYOND = "Blocking pellet, bulk arc beyond top frequency"
SYMMETRIC_LI_CELL = "Symmetric Li cell"
CELL_WITH_ELECTRODES = "Cell with electrodes"
HYBRID_OR_POLYMER = "Hybrid or polymer separator"

STANDARD_PROTOCOL_NAMES = (
    BLOCKING_PELLET,
    BLOCKING_PELLET_BULK_BEYOND,
    SYMMETRIC_LI_CELL,
    CELL_WITH_ELECTRODES,
    HYBRID_OR_POLYMER,
)

#: Protocols compared by evidence for the same spectrum (the pellet layouts); the first is the richer one.
MODEL_FAMILIES = ((BLOCKING_PELLET, BLOCKING_PELLET_BULK_BEYOND),)


def model_family(name: str) -> tuple[str, ...]:
    """The candidate protocol names compared with ``name`` (itself included); ``(name,)`` when it has none."""
    for family in MODEL_FAMILIES:
        if name in family:
            return family
    return (name,)


# The roles that add up to each conductivity kind.
CONDUCTIVITY_ROLES = {
    "bulk": ("bulk",),
    "grain_boundary": ("grain_boundary",),
    "total": ("bulk", "grain_boundary", "total"),
}

# An offset (Z' at the top frequency) above this share of the arc width is
# an unresolved bulk arc rather than the resistance of leads and contacts.
BULK_OFFSET_SHARE = 0.1
# Local maxima of −Z'' smaller than this share of the largest |Z| are noise.
APEX_PROMINENCE_SHARE = 0.02


@dataclass(frozen=True)
class SpectrumShape:
    """What the rule reads from −Z''(f): ``n_apexes`` arcs with their apex inside
    the window (the low-frequency electrode spike excluded), ``apex_beyond_top``
    when −Z'' still rises towards the highest measured frequency, and
    ``offset_share`` = Z'(f_max) / (width of the first arc)."""

    n_apexes: int
    apex_beyond_top: bool
    offset_share: float


def spectrum_shape(frequencies_hz, impedance_ohm) -> SpectrumShape:
    """Read arcs from −Z'' against frequency (high → low)."""
    f = np.asarray(frequencies_hz, float)
    z = np.asarray(impedance_ohm, complex)
    order = np.argsort(f)[::-1]
    mz = -z.imag[order]
    zr = z.real[order]
    if mz.size < 5:
        return SpectrumShape(n_apexes=0, apex_beyond_top=False, offset_share=0.0)
    # Light smoothing over three points: a noisy point must not count as an apex.
    smooth = np.convolve(np.pad(mz, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    # The low-frequency electrode spike (−Z'' rising towards the lowest frequency) is not an arc:
    # the arcs are read from the points above it, and measured against their own size.
    end = smooth.size - 1
    while end > 0 and smooth[end - 1] < smooth[end]:
        end -= 1
    arcs = smooth[: end + 1]
    scale = float(np.max(np.abs(z[order][: end + 1]))) if end > 0 else float(np.max(np.abs(z)))
    prominence = APEX_PROMINENCE_SHARE * scale
    apexes = []
    for i in range(1, arcs.size - 1):
        if arcs[i] >= arcs[i - 1] and arcs[i] > arcs[i + 1] and arcs[i] > 0:
            # Prominence: the drop to the lowest point on the low-frequency side.
            if arcs[i] - float(np.min(arcs[i + 1 :])) >= prominence:
                apexes.append(i)
    apex_beyond_top = bool(
        arcs.size > 1 and arcs[0] > 0 and arcs[0] > arcs[1] and (arcs[0] - np.min(arcs)) >= prominence
    )
    offset_share = 0.0
    if apexes:
        first = apexes[0]
        # Arc end: the minimum of −Z'' after the first apex (or the last point).
        after = arcs[first:]
        end = first + int(np.argmin(after))
        width = float(zr[end] - zr[0])
        offset_share = float(zr[0] / width) if width > 0 else 0.0
    return SpectrumShape(n_apexes=len(apexes), apex_beyond_top=apex_beyond_top, offset_share=offset_share)


def select_standard_protocol_name(
    *,
    configuration: str | None,
    polymer_separator: bool,
    frequencies_hz,
    impedance_ohm,
) -> str:
    """Name of the standard protocol for a spectrum (the rule in the module docstring)."""
    if configuration == "symmetric":
        return SYMMETRIC_LI_CELL
    if configuration in ("half_cell", "full_cell"):
        return CELL_WITH_ELECTRODES
    if polymer_separator:
        return HYBRID_OR_POLYMER
    shape = spectrum_shape(frequencies_hz, impedance_ohm)
    if shape.apex_beyond_top:
        return BLOCKING_PELLET_BULK_BEYOND
    if shape.n_apexes == 0:
        # No arc apex inside the window at all (a hot or highly conducting pellet: an offset and the
        # electrode spike): the arcs of the two-arc model would have nothing to fit and wander into
        # the spike, so the intercept is the resistance.
        return BLOCKING_PELLET_BULK_BEYOND
    if shape.n_apexes <= 1 and shape.offset_share > BULK_OFFSET_SHARE:
        return BLOCKING_PELLET_BULK_BEYOND
    return BLOCKING_PELLET


def is_polymer_separator(separator) -> bool:
    """A separator with a polymer matrix or a polymer component (polymer or hybrid)."""
    if separator is None:
        return False
    for component in separator.components.all():
        if component.role == "polymer_matrix" or component.material.family == "polymer":
            return True
    return False


def has_capacitive_tail(frequencies_hz, impedance_ohm, n_points: int = 4) -> bool:
    """True when −Z'' keeps rising over the lowest frequencies: a blocking-electrode spike
    (or a diffusion tail), which the Lin-KK model needs a series capacitance for."""
    f = np.asarray(frequencies_hz, float)
    z = np.asarray(impedance_ohm, complex)
    order = np.argsort(f)  # low → high frequency
    mz = -z.imag[order][:n_points]
    return bool(mz.size >= 3 and np.all(mz > 0) and np.all(np.diff(mz) < 0))
