"""The flags the analysis pipeline writes on a fit (`FitResult.flags`), registered in `apps.common.flags`.

The codes are written by `apps.analysis.eis.interpretation` (through `apps.analysis.services`);
`AnalysisConfig.ready` registers them, so pages, exports and the API never show a bare code, and the
benchmarks read from the severity which fits may stand behind a leaderboard number.
"""
from apps.common.flags import BLOCKS_LEADERBOARD, INFORMATIVE, Flag

FIT_FLAGS: tuple[Flag, ...] = (
    Flag("kk_failed", "Kramers–Kronig test failed", "The spectrum is not linear, causal and stable (drift, noise); "
         "no circuit fit of it can be trusted.", BLOCKS_LEADERBOARD),
    Flag("kk_insufficient_data", "Too few points to judge Kramers–Kronig consistency",
         "The spectrum has fewer than 20 points or fewer than 5 per decade: the Kramers–Kronig test cannot tell "
         "drift from noise on it, so it is neither passed nor failed.", INFORMATIVE),
    Flag("poor_chi_square", "Poor fit (rms residual > 2 %)",
         "The circuit does not describe the spectrum, so its resistances are not the sample's.", BLOCKS_LEADERBOARD),
    Flag("not_converged", "Optimiser stopped before its tolerance",
         "The optimiser stopped at its iteration limit. Whether the result can be used is judged by the "
         "residuals (poor fit) and the parameters' errors (not identifiable), which block when they fail; "
         "on clean spectra the limit is often reached at the minimum.", INFORMATIVE),
    Flag("parameter_at_bound", "Fit parameter at a protocol bound",
         "A parameter pinned at a bound that is not a physical limit has no meaningful value or uncertainty "
         "(a CPE exponent at 1, the ideal capacitor, or a resistance at zero, an absent element, are physical "
         "limits and not flagged).", BLOCKS_LEADERBOARD),
    Flag("parameter_held_by_bound", "Fit parameter held by a search-range bound",
         "A protocol bound that is a search range, not a physical limit, stopped a parameter; the note says what "
         "the cost falls to with the bound released and whether that relaxed fit is the one stored. When the "
         "bounded fit is stored, the parameter is also flagged at its bound, which blocks.", INFORMATIVE),
    Flag("parameter_unidentifiable", "Fit parameter not identifiable",
         "The data do not determine this parameter: its relative standard error exceeds 100 %, its variance is "
         "not finite, or it sits at a non-physical bound. Harmless unless a conductivity rests on it.",
         INFORMATIVE),
    Flag("resistance_unidentifiable", "Conductivity rests on an unidentifiable resistance",
         "A resistance summed into a conductivity is not determined by the data, so neither is the "
         "conductivity.", BLOCKS_LEADERBOARD),
    Flag("temperature_unknown", "Temperature unknown",
         "The spectrum states no temperature: its resistances give no conductivity at a temperature and it "
         "enters no Arrhenius series or 25 °C value.", BLOCKS_LEADERBOARD),
    Flag("assignment_at_odds_with_role", "Arc assignment at odds with its capacitance",
         "The element's effective capacitance points to another origin (Irvine, Sinclair & West 1990).",
         INFORMATIVE),
    Flag("roles_reassigned_by_capacitance", "Roles reassigned by capacitance",
         "The arc's capacitance is that of the bulk, so it was counted as bulk rather than as the protocol said.",
         INFORMATIVE),
    Flag("arc_hidden_under_electrode_spike", "Arc hidden under the electrode spike",
         "An arc smaller than the electrode impedance at its apex is not seen in the data and is left out of "
         "the conductivity.", INFORMATIVE),
    Flag("capacitance_jump", "Arc capacitance jumps between neighbouring points",
         "Across the cell's temperature (or pressure) series this arc's effective capacitance changes by more than "
         "a decade between neighbours; a bulk or grain-boundary capacitance hardly depends on temperature, so one "
         "of the two assignments is likely wrong.", INFORMATIVE),
    Flag("lead_resistance_exceeds_intercept", "Lead resistance exceeds the intercept",
         "The cell's lead resistance is not below the fitted intercept: the intercept is taken as leads only.",
         INFORMATIVE),
)

FIT_FLAG_TITLES: dict[str, str] = {flag.code: flag.title for flag in FIT_FLAGS}

#: Origins `apps.analysis.eis.derived.assign_arc` gives an arc, beyond the element roles.
ARC_ORIGIN_TITLES: dict[str, str] = {
    "bulk": "Bulk",
    "grain_boundary": "Grain boundary",
    "surface_layer": "Surface layer",
    "electrode": "Electrode",
}
