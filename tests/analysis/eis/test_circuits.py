import numpy as np
import pytest

from apps.analysis.eis import CircuitSyntaxError, circuit_impedance, parse_circuit

F = np.logspace(-2, 6, 41)
W = 2 * np.pi * F
S = 1j * W


def _coth(x):
    return 1 / np.tanh(x)


CLOSED_FORMS = [
    ("R1", {"R1": 12.5}, lambda: np.full(F.size, 12.5 + 0j)),
    ("C1", {"C1": 2e-6}, lambda: 1 / (S * 2e-6)),
    ("L1", {"L1": 3e-7}, lambda: S * 3e-7),
    ("CPE1", {"CPE1_Q": 1e-5, "CPE1_n": 0.8}, lambda: 1 / (1e-5 * S**0.8)),
    ("W1", {"W1_sigma": 40.0}, lambda: 40.0 * (1 - 1j) / np.sqrt(W)),
    ("Wo1", {"Wo1_R": 50.0, "Wo1_tau": 2.0}, lambda: 50.0 * _coth(np.sqrt(S * 2.0)) / np.sqrt(S * 2.0)),
    ("Ws1", {"Ws1_R": 50.0, "Ws1_tau": 2.0}, lambda: 50.0 * np.tanh(np.sqrt(S * 2.0)) / np.sqrt(S * 2.0)),
    ("G1", {"G1_R": 30.0, "G1_tau": 1e-3}, lambda: 30.0 / np.sqrt(1 + S * 1e-3)),
    ("La1", {"La1_L": 1e-6, "La1_alpha": 0.7}, lambda: 1e-6 * S**0.7),
]


@pytest.mark.parametrize("circuit,params,expected", CLOSED_FORMS, ids=[c[0] for c in CLOSED_FORMS])
def test_element_matches_closed_form(circuit, params, expected):
    # Wo/Ws closed forms overflow at high ωτ; compare where numpy's forms are finite.
    z_ref = expected()
    ok = np.isfinite(z_ref)
    z = circuit_impedance(circuit, params, F)
    np.testing.assert_allclose(z[ok], z_ref[ok], rtol=1e-10)


def test_inductive_cpe_is_l_times_s_to_alpha_not_ls_to_alpha():
    z = circuit_impedance("La1", [2e-6, 0.5], [1.0])
    assert z == pytest.approx(2e-6 * (2j * np.pi) ** 0.5, rel=1e-12)
    assert abs(z - (2e-6 * 2j * np.pi) ** 0.5) > 1e-3


def test_series_and_parallel_combine():
    z = circuit_impedance("R0-p(R1,C1)", {"R0": 10, "R1": 100, "C1": 1e-6}, F)
    np.testing.assert_allclose(z, 10 + 100 / (1 + S * 100 * 1e-6), rtol=1e-12)


def test_parameter_names_and_units():
    c = parse_circuit("R0-p(R1,CPE1)-Wo1-W1-La1")
    assert c.parameter_names == ["R0", "R1", "CPE1_Q", "CPE1_n", "Wo1_R", "Wo1_tau", "W1_sigma", "La1_L", "La1_alpha"]
    assert c.parameter_units[:4] == ["Ohm", "Ohm", "F s^(n-1)", ""]


JACOBIAN_CASES = [
    ("R1", [12.0]), ("C1", [1e-6]), ("L1", [1e-6]), ("CPE1", [1e-5, 0.8]), ("W1", [40.0]),
    ("Wo1", [50.0, 2.0]), ("Ws1", [50.0, 2.0]), ("G1", [30.0, 1e-3]), ("La1", [1e-6, 0.7]),
    ("R0-p(R1,CPE1)-p(R2-Wo1,C2)", [10, 100, 1e-6, 0.85, 50, 30, 5, 1e-5]),
    ("L0-R0-p(R1,p(R2,C2)-CPE1)-G1", [1e-7, 5, 100, 40, 1e-7, 1e-4, 0.7, 20, 1e-2]),
    ("p(R1-W1,CPE1)-p(Ws1,La1)", [100, 30, 1e-6, 0.9, 20, 1e-2, 1e-3, 0.8]),
]


@pytest.mark.parametrize("circuit,params", JACOBIAN_CASES, ids=[c[0] for c in JACOBIAN_CASES])
def test_analytic_jacobian_matches_finite_differences(circuit, params):
    c = parse_circuit(circuit)
    p = np.array(params, float)
    jac = c.jacobian(p, F)
    assert jac.shape == (F.size, p.size)
    for i in range(p.size):
        h = 1e-6 * p[i]
        up, down = p.copy(), p.copy()
        up[i] += h
        down[i] -= h
        numeric = (c.impedance(up, F) - c.impedance(down, F)) / (2 * h)
        scale = np.abs(numeric).max()
        assert np.abs(jac[:, i] - numeric).max() <= 1e-6 * scale, c.parameter_names[i]


@pytest.mark.parametrize(
    "text,position,problem",
    [
        ("R0-p(R1,X1)", 8, "unknown element 'X1'"),
        ("R0-p(R1,C1", 4, "unbalanced parentheses"),
        ("R0-C1)", 5, "unbalanced parentheses"),
        ("R0-p(R1,C1)-R1", 12, "duplicate element name 'R1'"),
        ("R0-p()", 4, "empty parallel"),
        ("R0--R1", 3, "expected an element"),
        ("CPE1-", 5, "string ended"),
        ("R", 0, "needs an index"),
    ],
)
def test_parse_error_names_position_and_problem(text, position, problem):
    with pytest.raises(CircuitSyntaxError) as err:
        parse_circuit(text)
    assert f"position {position}:" in str(err.value)
    assert problem in str(err.value)


def test_circuit_syntax_error_is_value_error():
    assert issubclass(CircuitSyntaxError, ValueError)
