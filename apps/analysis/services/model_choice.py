"""The circuit of a spectrum chosen by evidence, per spectrum and across a cell's series.

Per spectrum (``fit_by_evidence``): every protocol of the spectrum's model family
(``protocols.MODEL_FAMILIES``, the two pellet layouts) is fitted and compared by BIC on the same
weighting (with the Kramers–Kronig noise level σ̂ as the known noise when the
check has one, else the maximum-likelihood variance; ``eis.model_choice.compare_models``). The
evidence — every candidate's cost, free parameters, AIC, BIC and Δ — goes into
``derived["model_choice"]``; the shape rule's layout stands unless another is ahead of it by very strong
evidence (Δ > ``STRONG_EVIDENCE``). One standard fit per spectrum: the stored candidate replaces a fit of
another family member.

Per series (``choose_cell_series_models``): a cell's spectra at one stack pressure and ≥ 3
temperatures (a temperature series), and then those at one temperature and ≥ 3 pressures (a pressure
series), are refitted under every candidate with starts seeded from the neighbouring points'
results, and one family member is used across the series unless the BIC evidence for another at a
point is very strong (Δ > ``STRONG_EVIDENCE`` = 10, Kass & Raftery 1995) and it fits the data better
there (``eis.model_choice.choose_series_model``). Where the richer layout is not decisively better
(Δ ≤ 10) and its fastest arc is no longer the bulk — its apex above the highest measured frequency,
or its capacitance more than a decade off the series' bulk capacitance (taken from the points where
the richer layout is decisively better): the bulk sits in the intercept — the bulk-beyond layout reads
that spectrum, and the series records from which point the bulk arc has left the window. An arc whose
effective capacitance changes by more than a decade between neighbours fitted with the same layout is
flagged ``capacitance_jump`` on both fits (a bulk capacitance hardly depends on temperature).
"""
from __future__ import annotations

import dataclasses

import numpy as np
from django.db import transaction

from apps.catalog.models import Cell
from apps.measurements.models import ImpedanceSpectrum

from .. import protocols as protocol_rules
from ..eis import model_choice as evidence
from ..models import FitProtocol, FitResult, KramersKronigCheck
from .common import _json_safe
from .fits import fields_from_engine, run_engine, store_fits
from .protocols import latest_standard_protocol, standard_protocol_name_for

CRITERION = "bic"
STRONG_EVIDENCE = evidence.STRONG_EVIDENCE
#: A series needs this many distinct temperatures (or pressures).
SERIES_MIN_POINTS = 3
ENGINE_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError)


def family_protocols(name: str) -> list[FitProtocol]:
    """The newest standard version of every protocol in ``name``'s model family."""
    return [latest_standard_protocol(n) for n in protocol_rules.model_family(name)]


def _noise_level(kk: KramersKronigCheck | None, protocols: list[FitProtocol]) -> float | None:
    """σ̂ of the KK check, usable as the known noise of modulus-weighted fits only."""
    if kk is None or not kk.noise_level or kk.noise_level <= 0:
        return None
    if any(p.weighting != "modulus" for p in protocols):
        return None
    return float(kk.noise_level)


def _evidence_dict(choice: evidence.ModelChoice, results: dict, protocols: dict[str, FitProtocol]) -> dict:
    """What is stored in ``derived["model_choice"]``: the choice, its reason and per candidate the
    cost (χ²/2), free parameters, AIC, BIC, Δ, the protocol and the fitted parameters (seeds later)."""
    stored = choice.as_dict()
    for row in stored["candidates"]:
        row["cost"] = row["chi_square"] / 2.0
        row["n_params"] = row["n_free"]
        row["chosen"] = row["name"] == choice.chosen
        row["protocol_id"] = protocols[row["name"]].pk
        row["parameters"] = {k: float(v) for k, v in results[row["name"]].parameters.items()}
    stored["strong_evidence"] = STRONG_EVIDENCE
    return _json_safe(stored)


def compare_candidates(spectrum: ImpedanceSpectrum, protocols: list[FitProtocol], kk: KramersKronigCheck | None,
                       seeds: dict[str, list[dict]] | None = None) -> tuple[dict, evidence.ModelChoice | None]:
    """Engine fits of every candidate that can be fitted, and their comparison (None with fewer than two)."""
    results = {}
    for protocol in protocols:
        try:
            results[protocol.name] = run_engine(spectrum, protocol, seed_parameters=(seeds or {}).get(protocol.name))
        except ENGINE_ERRORS:
            continue
    if len(results) < 2:
        return results, None
    return results, evidence.compare_models(results, criterion=CRITERION, noise_level=_noise_level(kk, protocols))


def _store_chosen(rows: list[tuple[ImpedanceSpectrum, FitProtocol, dict, dict]], family: tuple[str, ...]) -> list[FitResult]:
    """Upsert the chosen fits (grouped by protocol, one statement per group) and remove the spectra's
    standard fits under the other family members, in one transaction."""
    stored: list[FitResult] = []
    with transaction.atomic():
        by_protocol: dict[int, list] = {}
        for spectrum, protocol, fields, resistances in rows:
            by_protocol.setdefault(protocol.pk, [protocol, []])[1].append((spectrum, fields, resistances))
        for protocol, computed in by_protocol.values():
            stored.extend(store_fits(protocol, computed))
        FitResult.objects.filter(
            spectrum__in=[spectrum.pk for spectrum, *_ in rows], protocol__is_standard=True, protocol__name__in=family,
        ).exclude(pk__in=[fit.pk for fit in stored]).delete()
    return stored


def _keep_rule_unless_decided(choice: evidence.ModelChoice, rule_choice: str) -> evidence.ModelChoice:
    """The layout the shape rule picked stands unless another candidate is ahead of it by very strong
    evidence (Δ > ``STRONG_EVIDENCE``), as within a series: on a clean spectrum a richer layout can win
    by a few BIC units by splitting one arc's tail into two, which moves the bulk into the intercept."""
    if choice.chosen == rule_choice or rule_choice not in {c.name for c in choice.candidates}:
        return choice
    margin = choice.score(rule_choice).delta
    if margin > STRONG_EVIDENCE:
        return choice
    reason = (f"{rule_choice!r} kept (the shape rule's layout): {choice.chosen!r} is ahead by "
              f"Δ{choice.criterion.upper()} = {margin:.1f}, not more than {STRONG_EVIDENCE:g}")
    return dataclasses.replace(choice, chosen=rule_choice, reason=reason)


def fit_by_evidence(*, spectrum: ImpedanceSpectrum) -> FitResult | None:
    """Fit every candidate of the spectrum's model family, store the one with the lowest BIC with the
    evidence in ``derived["model_choice"]``; None when the spectrum's protocol has no family (or fewer
    than two candidates could be fitted: the caller fits the rule's protocol as before)."""
    name = standard_protocol_name_for(spectrum)
    family = protocol_rules.model_family(name)
    if len(family) < 2:
        return None
    protocols = family_protocols(name)
    kk = KramersKronigCheck.objects.filter(spectrum=spectrum).first()
    results, choice = compare_candidates(spectrum, protocols, kk)
    if choice is None:
        return None
    choice = _keep_rule_unless_decided(choice, name)
    by_name = {p.name: p for p in protocols}
    fields, resistances = fields_from_engine(spectrum, by_name[choice.chosen], kk, results[choice.chosen])
    fields["derived"] = {**fields.get("derived", {}), "model_choice": _evidence_dict(choice, results, by_name)}
    return _store_chosen([(spectrum, by_name[choice.chosen], fields, resistances)], family)[0]


# --------------------------------------------------------------------------
# Series of one cell
# --------------------------------------------------------------------------


def _series_of(spectra: list[ImpedanceSpectrum]) -> list[tuple[str, list[ImpedanceSpectrum]]]:
    """Temperature series (one stack pressure, ≥ 3 temperatures, by temperature), then pressure series
    (one temperature, ≥ 3 pressures, by pressure) of the spectra not in a temperature series."""
    def key(value):
        return None if value is None else round(float(value), 3)

    found, used = [], set()
    by_pressure: dict = {}
    for s in spectra:
        if s.temperature_c is not None:
            by_pressure.setdefault(key(s.stack_pressure_mpa), []).append(s)
    for members in by_pressure.values():
        if len({key(s.temperature_c) for s in members}) >= SERIES_MIN_POINTS:
            members = sorted(members, key=lambda s: (s.temperature_c, s.pk))
            found.append(("temperature", members))
            used.update(s.pk for s in members)
    by_temperature: dict = {}
    for s in spectra:
        if s.pk not in used and s.stack_pressure_mpa is not None:
            by_temperature.setdefault(key(s.temperature_c), []).append(s)
    for members in by_temperature.values():
        if len({key(s.stack_pressure_mpa) for s in members}) >= SERIES_MIN_POINTS:
            found.append(("pressure", sorted(members, key=lambda s: (s.stack_pressure_mpa, s.pk))))
    return found


def _previous_parameters(spectrum_ids: list[int]) -> dict[int, dict[str, dict]]:
    """Per spectrum, the candidates' parameters stored by the last choice (the seeds of the next)."""
    found: dict[int, dict[str, dict]] = {}
    for spectrum_id, derived in FitResult.objects.filter(
        spectrum_id__in=spectrum_ids, protocol__is_standard=True, derived__has_key="model_choice",
    ).values_list("spectrum_id", "derived"):
        for row in (derived or {}).get("model_choice", {}).get("candidates", []):
            if row.get("parameters"):
                found.setdefault(spectrum_id, {})[row["name"]] = row["parameters"]
    return found


def _bulk_beyond_points(series: evidence.SeriesChoice, points: list[dict], per_point: list[str], richer: str,
                        simpler: str, simpler_bulk: str) -> tuple[list[int], list[float | None]]:
    """Points of the richer layout where its bulk arc has left the window, and per point the bulk apex
    frequency (the fitted one; for the bulk-beyond layout 1/(2π R_bulk C_bulk) with its bulk resistance
    ``simpler_bulk`` and the series' bulk C).

    The bulk capacitance of the series is the median effective capacitance of the richer layout's fastest
    arc where that layout is decisively better (ΔBIC > 10). Where it is not, its fastest arc is no longer
    the bulk when its apex lies above the top frequency or its capacitance is more than a decade off the
    series' bulk capacitance (it has taken the grain-boundary arc, the bulk sitting in the intercept):
    the bulk-beyond layout reads that spectrum.
    """
    def advantage(i):  # the richer layout's lead over the simpler one at point i
        return _value(series.choices[i], simpler) - _value(series.choices[i], richer)

    arcs = [evidence.arc_parameters(p[richer].circuit, p[richer].parameters) for p in points]
    f_max = [float(np.max(p[richer].frequencies_hz)) for p in points]
    decisive = [arcs[i][0]["capacitance_f"] for i in range(len(points))
                if arcs[i] and advantage(i) > STRONG_EVIDENCE and per_point[i] == richer]
    c_bulk = float(np.median(decisive)) if decisive else None
    beyond = []
    for i in range(len(points)):
        if per_point[i] != richer or advantage(i) > STRONG_EVIDENCE or not arcs[i]:
            continue
        fast = arcs[i][0]
        off = c_bulk is not None and max(fast["capacitance_f"] / c_bulk, c_bulk / fast["capacitance_f"]) > \
            evidence.CAPACITANCE_JUMP_FACTOR
        if fast["apex_frequency_hz"] > f_max[i] or off:
            beyond.append(i)
    apex: list[float | None] = []
    for i, p in enumerate(points):
        if i not in beyond and per_point[i] == richer:
            apex.append(arcs[i][0]["apex_frequency_hz"] if arcs[i] else None)
        else:
            r_bulk = float(p[simpler].parameters.get(simpler_bulk, 0.0))
            apex.append(1.0 / (2 * np.pi * r_bulk * c_bulk) if c_bulk and r_bulk > 0 else None)
    return beyond, apex


def _capacitance_jumps(points: list[dict], per_point: list[str]) -> set[int]:
    """Points next to a jump of more than ``CAPACITANCE_JUMP_FACTOR`` in an arc's effective capacitance
    between neighbours fitted with the same layout."""
    jumped: set[int] = set()
    for i in range(len(points) - 1):
        if per_point[i] != per_point[i + 1]:
            continue
        a = evidence.arc_parameters(points[i][per_point[i]].circuit, points[i][per_point[i]].parameters)
        b = evidence.arc_parameters(points[i + 1][per_point[i]].circuit, points[i + 1][per_point[i]].parameters)
        for x, y in zip(a, b):
            low, high = sorted((x["capacitance_f"], y["capacitance_f"]))
            if high > evidence.CAPACITANCE_JUMP_FACTOR * max(low, 1e-300):
                jumped.update((i, i + 1))
    return jumped


def _value(choice: evidence.ModelChoice, name: str) -> float:
    score = choice.score(name)
    return score.bic if CRITERION == "bic" else score.aic


def choose_series(kind: str, spectra: list[ImpedanceSpectrum], protocols: list[FitProtocol]) -> list[FitResult]:
    """One model family for one series (the rule in the module docstring); stores every point's fit."""
    family = tuple(p.name for p in protocols)
    richer, simpler = family[0], family[-1]
    ids = [s.pk for s in spectra]
    verdicts = KramersKronigCheck.objects.in_bulk(ids, field_name="spectrum_id")
    previous = _previous_parameters(ids)
    points, fitted = [], []
    for i, spectrum in enumerate(spectra):
        # Starts: this point's own last results, then its neighbours' (nearest temperature first).
        seeds = {
            name: [previous[j][name] for j in [spectrum.pk] + [spectra[k].pk for k in (i - 1, i + 1) if 0 <= k < len(spectra)]
                   if name in previous.get(j, {})]
            for name in family
        }
        results, choice = compare_candidates(spectrum, protocols, verdicts.get(spectrum.pk), seeds)
        if choice is not None:
            points.append(results)
            fitted.append(spectrum)
    if len(fitted) < SERIES_MIN_POINTS:
        return []
    noise = [_noise_level(verdicts.get(s.pk), protocols) for s in fitted]
    series = evidence.choose_series_model(points, criterion=CRITERION, noise_levels=noise,
                                          strong_evidence=STRONG_EVIDENCE)
    per_point = list(series.per_point)
    by_name = {p.name: p for p in protocols}
    simpler_bulk = next((n for n, role in (by_name[simpler].element_roles or {}).items()
                         if role == "bulk" and n.startswith("R")), "")
    beyond_points, bulk_apex = _bulk_beyond_points(series, points, per_point, richer, simpler, simpler_bulk)
    for i in beyond_points:
        per_point[i] = simpler
    jumped = _capacitance_jumps(points, per_point)
    exits = sorted(set(beyond_points) | {w.index for w in series.window_exits if w.arc == 0 and per_point[w.index] == richer})
    exit_note = None
    if exits:
        i = exits[0]
        exit_note = {"index": i, "spectrum_id": fitted[i].pk, "temperature_c": fitted[i].temperature_c,
                     "stack_pressure_mpa": fitted[i].stack_pressure_mpa, "apex_frequency_hz": bulk_apex[i],
                     "f_max_hz": float(np.max(points[i][per_point[i]].frequencies_hz))}
    rows = []
    for i, spectrum in enumerate(fitted):
        used = per_point[i]
        result = points[i][used]
        fields, resistances = fields_from_engine(spectrum, by_name[used], verdicts.get(spectrum.pk), result)
        arcs = evidence.arc_parameters(result.circuit, result.parameters)
        stored = _evidence_dict(series.choices[i], points[i], by_name)
        stored["chosen"] = used
        if used != series.choices[i].chosen:
            stored["reason"] = series.choices[i].reason + f"; the series uses {used!r}"
        stored["series"] = _json_safe({
            "kind": kind, "family": series.family, "position": i, "n_points": len(fitted),
            "spectrum_ids": [s.pk for s in fitted], "deviation": i in series.deviations,
            "bulk_beyond_window": i in beyond_points, "window_exit": exit_note,
            "capacitance_jump": i in jumped, "total_criterion": series.total_criterion, "reason": series.reason,
            "arcs": arcs, "bulk_apex_frequency_hz": bulk_apex[i], "f_max_hz": float(np.max(result.frequencies_hz)),
        })
        fields["derived"] = {**fields.get("derived", {}), "model_choice": stored}
        if i in jumped:
            fields["flags"] = sorted(set(fields.get("flags", [])) | {"capacitance_jump"})
        rows.append((spectrum, by_name[used], fields, resistances))
    return _store_chosen(rows, family)


def choose_cell_series_models(*, cell_id: int) -> dict:
    """Choose the model family for each temperature and pressure series of a cell (spectra whose
    standard protocol has a model family); returns a summary per series."""
    cell = Cell.objects.select_related("separator").get(pk=cell_id)
    spectra = list(ImpedanceSpectrum.objects.filter(cell=cell).select_related("cell", "cell__separator")
                   .prefetch_related("cell__separator__components__material").order_by("pk"))
    by_family: dict[tuple[str, ...], list[ImpedanceSpectrum]] = {}
    for spectrum in spectra:
        family = protocol_rules.model_family(standard_protocol_name_for(spectrum))
        if len(family) > 1:
            by_family.setdefault(family, []).append(spectrum)
    summary = []
    for family, members in by_family.items():
        protocols = family_protocols(family[0])
        for kind, series in _series_of(members):
            fits = choose_series(kind, series, protocols)
            if fits:
                info = fits[0].derived["model_choice"]["series"]
                summary.append({
                    "kind": kind, "n_points": len(fits), "family": info["family"],
                    "used": {name: sum(1 for f in fits if f.protocol.name == name) for name in family},
                    "capacitance_jumps": sum(1 for f in fits if "capacitance_jump" in f.flags),
                    "window_exit": info["window_exit"],
                })
    return {"series": summary}


def has_family_series(cell_ids) -> list[int]:
    """Cells among ``cell_ids`` with spectra fitted by evidence: the series job's targets (it finds their
    series itself; queued for every such cell, it also carries the follow-ups — the Arrhenius fit comes
    after the choice, once)."""
    return sorted(set(FitResult.objects.filter(spectrum__cell_id__in=list(cell_ids), protocol__is_standard=True,
                                               derived__has_key="model_choice")
                      .values_list("spectrum__cell_id", flat=True).distinct()))


__all__ = ["CRITERION", "STRONG_EVIDENCE", "choose_cell_series_models", "choose_series", "fit_by_evidence",
           "has_family_series"]
