"""The rule that picks a standard protocol, the shipped protocols, and protocol immutability."""
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.analysis import protocols, services
from apps.analysis.models import FitProtocol, FitStatus
from apps.catalog.models import Cell, MaterialFamily, SeparatorComponent
from tests.analysis.synthetic import (
    BULK_BEYOND, BULK_BEYOND_TRUTH, PELLET, PELLET_TRUTH, set_spectrum, spectrum_arrays,
)
from tests.factories import (
    CellFactory, FitProtocolFactory, MaterialFactory, MembershipFactory, SeparatorFactory, SpectrumFactory,
    rc_spectrum,
)


def test_pellet_with_both_apexes_inside_gets_the_full_pellet_protocol():
    f, z = spectrum_arrays(PELLET, PELLET_TRUTH, f_max_hz=1e7)
    name = protocols.select_standard_protocol_name(
        configuration="blocking", polymer_separator=False, frequencies_hz=f, impedance_ohm=z
    )
    assert name == protocols.BLOCKING_PELLET


def test_pellet_whose_bulk_apex_lies_above_the_top_frequency_gets_the_bulk_beyond_protocol():
    f, z = spectrum_arrays(PELLET, PELLET_TRUTH, f_max_hz=1e5)
    assert protocols.spectrum_shape(f, z).apex_beyond_top
    name = protocols.select_standard_protocol_name(
        configuration="blocking", polymer_separator=False, frequencies_hz=f, impedance_ohm=z
    )
    assert name == protocols.BLOCKING_PELLET_BULK_BEYOND


def test_single_arc_starting_from_a_large_offset_counts_as_bulk_beyond():
    f, z = spectrum_arrays(BULK_BEYOND, BULK_BEYOND_TRUTH, f_max_hz=1e6)
    shape = protocols.spectrum_shape(f, z)
    # R0 / R1 = 800 / 3000; the arc end read from −Z'' also holds some of the spike's real part.
    assert shape.n_apexes == 1 and 0.2 < shape.offset_share < 0.4
    assert protocols.select_standard_protocol_name(
        configuration="blocking", polymer_separator=False, frequencies_hz=f, impedance_ohm=z
    ) == protocols.BLOCKING_PELLET_BULK_BEYOND


def test_single_arc_from_a_small_lead_offset_gets_the_full_pellet_protocol():
    f, z = rc_spectrum(r_ohm=1000.0, r0_ohm=10.0)
    assert protocols.select_standard_protocol_name(
        configuration="blocking", polymer_separator=False, frequencies_hz=f, impedance_ohm=z
    ) == protocols.BLOCKING_PELLET


@pytest.mark.parametrize(
    ("configuration", "polymer", "expected"),
    [
        ("symmetric", False, protocols.SYMMETRIC_LI_CELL),
        ("symmetric", True, protocols.SYMMETRIC_LI_CELL),
        ("half_cell", False, protocols.CELL_WITH_ELECTRODES),
        ("full_cell", True, protocols.CELL_WITH_ELECTRODES),
        ("blocking", True, protocols.HYBRID_OR_POLYMER),
        (None, True, protocols.HYBRID_OR_POLYMER),
    ],
)
def test_configuration_and_separator_decide_before_the_shape(configuration, polymer, expected):
    f, z = spectrum_arrays(PELLET, PELLET_TRUTH)
    assert protocols.select_standard_protocol_name(
        configuration=configuration, polymer_separator=polymer, frequencies_hz=f, impedance_ohm=z
    ) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "family", "polymer"),
    [
        (SeparatorComponent.Role.POLYMER_MATRIX, MaterialFamily.OTHER, True),
        (SeparatorComponent.Role.FAST_ION_PHASE, MaterialFamily.POLYMER, True),
        (SeparatorComponent.Role.FAST_ION_PHASE, MaterialFamily.GARNET, False),
    ],
)
def test_polymer_separator_recognised_from_its_components(role, family, polymer):
    separator = SeparatorFactory(with_component=False)
    SeparatorComponent.objects.create(separator=separator, material=MaterialFactory(family=family), role=role)
    assert protocols.is_polymer_separator(separator) is polymer


@pytest.mark.django_db
def test_every_standard_protocol_is_shipped_with_roles_for_its_circuit():
    from apps.analysis.eis.circuits import parse_circuit

    shipped = FitProtocol.objects.filter(is_standard=True, version=1)
    assert set(shipped.values_list("name", flat=True)) == set(protocols.STANDARD_PROTOCOL_NAMES)
    for protocol in shipped:
        elements = {e.name for e in parse_circuit(protocol.circuit).elements}
        assert set(protocol.element_roles) == elements, protocol.name
        assert protocol.applies_to


@pytest.mark.django_db
def test_standard_protocol_for_uses_the_newest_standard_version(admin_user):
    cell = CellFactory(configuration=Cell.Configuration.SYMMETRIC)
    spectrum = SpectrumFactory(cell=cell, group=cell.group)
    v1 = FitProtocol.objects.get(name=protocols.SYMMETRIC_LI_CELL, version=1)
    v2 = services.create_protocol_version(base=v1, user=admin_user, description="tighter bounds")
    assert services.standard_protocol_for(spectrum) == v2
    assert v2.version == 2 and v2.is_standard and v2.circuit == v1.circuit


@pytest.mark.django_db
def test_used_protocol_cannot_be_edited(admin_user):
    protocol = FitProtocol.objects.get(name=protocols.BLOCKING_PELLET, version=1)
    spectrum = SpectrumFactory()
    protocol.fits.create(spectrum=spectrum, status=FitStatus.FAILED, error="x", engine_version="t")
    with pytest.raises(ValidationError, match="immutable"):
        services.update_protocol(protocol=protocol, user=admin_user, circuit="R0-p(R1,CPE1)")
    protocol.refresh_from_db()
    assert protocol.circuit == "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"


@pytest.mark.django_db
def test_unused_protocol_can_be_edited_by_its_group(member, group):
    protocol = FitProtocolFactory(group=group, circuit="R0-p(R1,C1)")
    services.update_protocol(protocol=protocol, user=member, circuit="R0-p(R1,CPE1)", element_roles={"R1": "total"})
    protocol.refresh_from_db()
    assert protocol.circuit == "R0-p(R1,CPE1)"


@pytest.mark.django_db
def test_new_version_of_used_protocol_leaves_the_old_one_alone(member, group):
    protocol = FitProtocolFactory(group=group, circuit="R0-p(R1,C1)")
    protocol.fits.create(spectrum=SpectrumFactory(), status=FitStatus.FAILED, error="x", engine_version="t")
    new = services.create_protocol_version(base=protocol, user=member, circuit="R0-p(R1,CPE1)", element_roles={})
    protocol.refresh_from_db()
    assert (new.name, new.version, new.circuit) == (protocol.name, 2, "R0-p(R1,CPE1)")
    assert protocol.circuit == "R0-p(R1,C1)"


@pytest.mark.django_db
def test_outsider_cannot_version_a_group_protocol(outsider, group):
    protocol = FitProtocolFactory(group=group)
    with pytest.raises(ValidationError):
        services.create_protocol_version(base=protocol, user=outsider, description="mine now")


@pytest.mark.django_db
def test_only_staff_version_standard_protocols(member):
    protocol = FitProtocol.objects.get(name=protocols.BLOCKING_PELLET, version=1)
    with pytest.raises(ValidationError):
        services.create_protocol_version(base=protocol, user=member, weighting="unit")


@pytest.mark.django_db
def test_bad_circuit_error_names_the_position(member, group):
    with pytest.raises(ValidationError) as excinfo:
        services.create_protocol(user=member, group=group, name="broken", circuit="R0-p(R1,CPE1")
    assert "position" in str(excinfo.value.message_dict["circuit"])
    assert not FitProtocol.objects.filter(name="broken").exists()


@pytest.mark.django_db
def test_roles_for_elements_not_in_the_circuit_are_rejected(member, group):
    with pytest.raises(ValidationError) as excinfo:
        services.create_protocol(user=member, group=group, name="p", circuit="R0-p(R1,C1)", element_roles={"R7": "bulk"})
    assert "R7" in str(excinfo.value.message_dict["element_roles"])


@pytest.mark.django_db
def test_protocol_for_a_group_the_user_is_not_in_is_refused(outsider, group):
    with pytest.raises(ValidationError):
        services.create_protocol(user=outsider, group=group, name="p", circuit="R0-p(R1,C1)")


@pytest.mark.django_db
def test_custom_circuit_creates_one_protocol_of_the_users_group(member, group, run_jobs):
    spectrum = SpectrumFactory(group=group)
    with run_jobs():
        first = services.request_fit(spectrum=spectrum, user=member, circuit="R0-p(R1,C1)")
    with run_jobs():
        second = services.request_fit(spectrum=spectrum, user=member, circuit="R0-p(R1,C1)")
    assert first.params["protocol_id"] == second.params["protocol_id"]
    protocol = FitProtocol.objects.get(pk=first.params["protocol_id"])
    assert protocol.group == group and not protocol.is_standard


@pytest.mark.django_db
def test_custom_circuit_with_a_syntax_error_is_refused_with_the_position(member, group):
    spectrum = SpectrumFactory(group=group)
    with pytest.raises(ValidationError) as excinfo:
        services.request_fit(spectrum=spectrum, user=member, circuit="R0-p(R1,,C1)")
    assert "position" in str(excinfo.value)


@pytest.mark.django_db
def test_fit_of_a_spectrum_the_user_cannot_see_is_refused(outsider, group):
    spectrum = SpectrumFactory(group=group, visibility="group", cell__visibility="group")
    with pytest.raises(ValidationError):
        services.request_fit(spectrum=spectrum, user=outsider)


@pytest.mark.django_db
def test_another_groups_protocol_cannot_be_used(outsider, group):
    other_protocol = FitProtocolFactory(group=group)
    spectrum = SpectrumFactory(group=outsider.memberships.get().group)  # the outsider's own spectrum
    with pytest.raises(ValidationError) as excinfo:
        services.request_fit(spectrum=spectrum, user=outsider, protocol=other_protocol)
    assert "protocol" in excinfo.value.message_dict


@pytest.mark.django_db
def test_only_members_of_the_spectrums_group_may_fit_it(outsider):
    spectrum = SpectrumFactory()  # public, another group's
    with pytest.raises(PermissionDenied):
        services.request_fit(spectrum=spectrum, user=outsider, circuit="R0-p(R1,C1)")


@pytest.mark.django_db
def test_members_cannot_make_their_protocol_standard(member, group):
    protocol = FitProtocolFactory(group=group)
    with pytest.raises(ValidationError) as excinfo:
        services.update_protocol(protocol=protocol, user=member, is_standard=True)
    assert "is_standard" in excinfo.value.message_dict
    protocol.refresh_from_db()
    assert not protocol.is_standard


@pytest.mark.django_db
def test_long_custom_circuit_gets_a_protocol_name_within_the_column(member, group):
    circuit = "-".join(f"p(R{i},CPE{i})" for i in range(1, 12))
    spectrum = SpectrumFactory(group=group)
    first = services.request_fit(spectrum=spectrum, user=member, circuit=circuit)
    second = services.request_fit(spectrum=spectrum, user=member, circuit=circuit)
    protocol = FitProtocol.objects.get(pk=first.params["protocol_id"])
    assert len(protocol.name) <= 120 and protocol.circuit == circuit
    assert second.params["protocol_id"] == protocol.pk


def _hot_argyrodite_spectrum():
    """Li6PS5Cl at 80 °C (640 µm, 0.785 cm², σ = 1.6e-2 S/cm): 4.2 Ω bulk far above 7 MHz, a 0.7 Ω
    grain-boundary arc (1e-8 F) at ~20 MHz, 0.5 Ω leads and the steel electrodes' spike."""
    truth = {"R0": 4.7, "R1": 0.74, "CPE1_Q": 6.5e-8, "CPE1_n": 0.9, "CPE2_Q": 3.9e-6, "CPE2_n": 0.85}
    return spectrum_arrays(BULK_BEYOND, truth, f_max_hz=7e6, n=69, noise=0.004, seed=3)


def test_hot_argyrodite_with_no_arc_in_the_window_gets_the_bulk_beyond_protocol():
    f, z = _hot_argyrodite_spectrum()
    assert protocols.spectrum_shape(f, z).n_apexes == 0
    assert protocols.select_standard_protocol_name(
        configuration="blocking", polymer_separator=False, frequencies_hz=f, impedance_ohm=z
    ) == protocols.BLOCKING_PELLET_BULK_BEYOND


def test_offset_plus_electrode_spike_alone_never_gets_the_two_arc_protocol():
    truth = {"R0": 25.0, "R1": 1e-3, "CPE1_Q": 1e-12, "CPE1_n": 0.9, "CPE2_Q": 4e-6, "CPE2_n": 0.85}
    f, z = spectrum_arrays(BULK_BEYOND, truth, f_max_hz=1e6, noise=0.004, seed=5)
    assert protocols.select_standard_protocol_name(
        configuration="blocking", polymer_separator=False, frequencies_hz=f, impedance_ohm=z
    ) == protocols.BLOCKING_PELLET_BULK_BEYOND


@pytest.mark.django_db
def test_admin_shows_a_used_protocol_read_only(client):
    from apps.analysis.models import FitResult
    from tests.factories import UserFactory

    used, unused = FitProtocolFactory(), FitProtocolFactory()
    FitResult.objects.create(spectrum=SpectrumFactory(), protocol=used, status="succeeded", engine_version="test")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert 'name="circuit"' not in client.get(f"/admin/analysis/fitprotocol/{used.pk}/change/").content.decode()
    assert 'name="circuit"' in client.get(f"/admin/analysis/fitprotocol/{unused.pk}/change/").content.decode()
