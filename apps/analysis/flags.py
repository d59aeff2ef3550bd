"""Titles of the flags the analysis pipeline writes on a fit (`FitResult.flags`), for pages and exports.

The codes are written by `apps.analysis.services`; the benchmark flags they feed have their own
titles in `apps.benchmarks.flags.FLAGS`. One table here, so a page never shows a bare code.
"""

FIT_FLAG_TITLES: dict[str, str] = {
    "kk_failed": "Kramers–Kronig test failed",
    "poor_chi_square": "Poor fit (rms residual > 2 %)",
    "not_converged": "Fit did not converge",
    "parameter_at_bound": "Fit parameter at a protocol bound",
    "assignment_at_odds_with_role": "Arc assignment at odds with its capacitance",
    "roles_reassigned_by_capacitance": "Roles reassigned by capacitance",
    "arc_hidden_under_electrode_spike": "Arc hidden under the electrode spike",
    "lead_resistance_exceeds_intercept": "Lead resistance exceeds the intercept",
}

#: Origins `apps.analysis.eis.derived.assign_arc` gives an arc, beyond the element roles.
ARC_ORIGIN_TITLES: dict[str, str] = {
    "bulk": "Bulk",
    "grain_boundary": "Grain boundary",
    "surface_layer": "Surface layer",
    "electrode": "Electrode",
}
