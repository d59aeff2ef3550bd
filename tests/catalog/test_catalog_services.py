"""Catalog write services: validation by field, group membership, nested rows written and replaced atomically."""
import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError

from apps.accounts.models import Visibility
from apps.catalog.models import (
    Cell,
    CellLayer,
    Interface,
    InterfaceEvidence,
    Material,
    PressureStep,
    Separator,
    SeparatorComponent,
    Source,
)
from apps.catalog.services import (
    create_cell,
    create_electrode,
    create_interface,
    create_separator,
    get_or_create_material,
    get_or_create_source,
    update_cell,
    update_interface,
    update_separator,
)
from tests.factories import MaterialFactory, SeparatorFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def llzo():
    return MaterialFactory(name="LLZTO", formula="Li6.4La3Zr1.4Ta0.6O12")


@pytest.fixture
def peo():
    return MaterialFactory(name="PEO", formula="(C2H4O)n", family="polymer")


def _separator(user, group, llzo, **extra):
    fields = dict(name="LLZTO pellet", thickness_um=800.0, area_cm2=0.785, relative_density=0.96, processing_route="sintering")
    fields.update(extra)
    return create_separator(
        user=user, group=group, components=[{"material": llzo, "role": "fast_ion_phase", "fraction": 1.0}], **fields
    )


@pytest.mark.parametrize("role", ["member", "owner"])
def test_member_creates_separator_with_components_in_order(role, request, group, llzo, peo):
    user = request.getfixturevalue(role)
    separator = create_separator(
        user=user,
        group=group,
        name="PEO/LLZTO hybrid",
        form="sheet",
        thickness_um=60.0,
        components=[
            {"material": peo, "role": "polymer_matrix", "fraction": 0.5, "fraction_basis": "volume"},
            {"material": llzo.pk, "role": "fast_ion_phase", "fraction": 0.5, "fraction_basis": "volume"},
        ],
    )
    assert separator.group == group and separator.created_by == user
    assert [(c.material.name, c.role) for c in separator.components.order_by("pk")] == [
        ("PEO", "polymer_matrix"),
        ("LLZTO", "fast_ion_phase"),
    ]


@pytest.mark.parametrize("who", ["outsider", "anonymous"])
def test_non_member_cannot_create_in_a_group(who, request, group, llzo):
    user = request.getfixturevalue("outsider") if who == "outsider" else AnonymousUser()
    with pytest.raises(PermissionDenied):
        _separator(user, group, llzo)
    assert Separator.objects.count() == 0


def test_superuser_may_write_to_any_group(group, llzo):
    admin = UserFactory(username="admin", is_superuser=True, is_staff=True)
    assert _separator(admin, group, llzo).group == group


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"thickness_um": -5.0}, "thickness_um"),
        ({"relative_density": 1.4}, "relative_density"),
        ({"form": "cube"}, "form"),
        ({"name": ""}, "name"),
        ({"thikness_um": 3.0}, "thikness_um"),
    ],
)
def test_invalid_separator_field_is_named_and_nothing_stored(fields, field, member, group, llzo):
    with pytest.raises(ValidationError) as caught:
        _separator(member, group, llzo, **fields)
    assert field in caught.value.message_dict
    assert Separator.objects.count() == 0


@pytest.mark.parametrize(
    "component, needle",
    [
        ({"role": "fast_ion_phase", "fraction": 1.5}, "fraction"),
        ({"role": "catalyst", "fraction": 0.5}, "role"),
        ({"material": 999999, "role": "salt"}, "no Material"),
    ],
)
def test_invalid_component_rolls_back_the_separator(component, needle, member, group, llzo):
    component = {"material": llzo, **component}
    with pytest.raises(ValidationError) as caught:
        create_separator(user=member, group=group, name="bad", components=[component])
    assert any(needle in message for message in caught.value.message_dict["components"])
    assert Separator.objects.count() == 0 and SeparatorComponent.objects.count() == 0


def test_component_fractions_on_one_basis_cannot_exceed_one(member, group, llzo, peo):
    with pytest.raises(ValidationError) as caught:
        create_separator(
            user=member,
            group=group,
            name="over",
            components=[
                {"material": llzo, "role": "fast_ion_phase", "fraction": 0.7},
                {"material": peo, "role": "polymer_matrix", "fraction": 0.6},
            ],
        )
    assert "components" in caught.value.message_dict


def test_update_replaces_components_whole(member, group, llzo, peo):
    separator = _separator(member, group, llzo)
    update_separator(
        separator=separator,
        user=member,
        thickness_um=650.0,
        components=[{"material": peo, "role": "polymer_matrix", "fraction": 0.8}],
    )
    separator.refresh_from_db()
    assert separator.thickness_um == 650.0
    assert [c.material.name for c in separator.components.all()] == ["PEO"]


def test_failed_update_keeps_old_components_and_fields(member, group, llzo, peo):
    separator = _separator(member, group, llzo)
    with pytest.raises(ValidationError):
        update_separator(
            separator=separator,
            user=member,
            thickness_um=400.0,
            components=[{"material": peo, "role": "polymer_matrix", "fraction": 2.0}],
        )
    fresh = Separator.objects.get(pk=separator.pk)
    assert fresh.thickness_um == 800.0
    assert [c.material.name for c in fresh.components.all()] == ["LLZTO"]


def test_outsider_cannot_update(member, outsider, group, llzo):
    separator = _separator(member, group, llzo)
    with pytest.raises(PermissionDenied):
        update_separator(separator=separator, user=outsider, thickness_um=1.0)


def test_cell_layers_and_pressure_steps_get_positions_in_order(member, group, llzo):
    separator = _separator(member, group, llzo)
    au = MaterialFactory(name="Au", formula="Au", family="other")
    cell = create_cell(
        user=member,
        group=group,
        name="Au|LLZTO|Au",
        configuration="blocking",
        housing="die",
        electrode_contact="au",
        active_area_cm2=0.785,
        layers=[
            {"kind": "current_collector", "material": au, "thickness_um": 0.1},
            {"kind": "separator", "separator": separator},
            {"kind": "current_collector", "material": au, "thickness_um": 0.1},
        ],
        pressure_steps=[
            {"phase": "densification", "pressure_mpa": 375, "duration_min": 5},
            {"phase": "measurement", "pressure_mpa": 50},
        ],
    )
    assert cell.separator == separator  # the one separator layer
    assert [(layer.position, layer.kind) for layer in cell.layers.all()] == [
        (0, "current_collector"),
        (1, "separator"),
        (2, "current_collector"),
    ]
    assert [(s.position, s.phase) for s in cell.pressure_steps.all()] == [(0, "densification"), (1, "measurement")]
    assert cell.measurement_pressure_mpa == 50


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"pressure_steps": [{"phase": "measurement", "pressure_mpa": -1}]}, "pressure_steps"),
        ({"pressure_steps": [{"phase": "squeezing", "pressure_mpa": 10}]}, "pressure_steps"),
        ({"layers": [{"kind": "separator"}]}, "layers"),
        ({"active_area_cm2": 0.0}, "active_area_cm2"),
        ({"configuration": "sandwich"}, "configuration"),
    ],
)
def test_invalid_cell_input_named_and_nothing_stored(kwargs, field, member, group):
    arguments = {"name": "c", "configuration": "blocking", "layers": [], "pressure_steps": [], **kwargs}
    with pytest.raises(ValidationError) as caught:
        create_cell(user=member, group=group, **arguments)
    assert field in caught.value.message_dict
    assert (Cell.objects.count(), CellLayer.objects.count(), PressureStep.objects.count()) == (0, 0, 0)


def test_cell_cannot_use_another_groups_private_separator(member, group):
    hidden = SeparatorFactory(visibility=Visibility.PRIVATE)  # another group
    with pytest.raises(ValidationError) as caught:
        create_cell(
            user=member, group=group, name="c", configuration="blocking", separator=hidden, layers=[], pressure_steps=[]
        )
    assert "separator" in caught.value.message_dict


def test_update_cell_replaces_pressure_history_and_keeps_layers(member, group, llzo):
    separator = _separator(member, group, llzo)
    cell = create_cell(
        user=member,
        group=group,
        name="c",
        configuration="blocking",
        layers=[{"kind": "separator", "separator": separator}],
        pressure_steps=[{"phase": "densification", "pressure_mpa": 300}, {"phase": "measurement", "pressure_mpa": 10}],
    )
    update_cell(cell=cell, user=member, pressure_steps=[{"phase": "measurement", "pressure_mpa": 100}])
    assert [(s.position, s.pressure_mpa) for s in cell.pressure_steps.all()] == [(0, 100)]
    assert cell.layers.count() == 1


def test_failed_cell_update_keeps_old_pressure_history(member, group):
    cell = create_cell(
        user=member, group=group, name="c", configuration="blocking", layers=[],
        pressure_steps=[{"phase": "measurement", "pressure_mpa": 10}],
    )
    with pytest.raises(ValidationError):
        update_cell(
            cell=cell,
            user=member,
            pressure_steps=[{"phase": "measurement", "pressure_mpa": 20}, {"phase": "rest", "pressure_mpa": -3}],
        )
    assert list(PressureStep.objects.filter(cell=cell).values_list("pressure_mpa", flat=True)) == [10]


def test_interface_with_nmr_and_dft_evidence_is_cross_validated(member, group, llzo):
    li = MaterialFactory(name="Li", formula="Li", family="other")
    interface = create_interface(
        user=member,
        group=group,
        name="Li|LLZTO",
        material_a=li,
        material_b=llzo,
        evidence=[
            {"technique": "nmr", "assigned_species": "Li2CO3", "measured_value": 0.2, "value_unit": "ppm"},
            {"technique": "dft", "assigned_species": "li2co3", "computed_value": 0.3, "value_unit": "ppm"},
            {"technique": "xps", "assigned_species": "LiOH"},
        ],
    )
    assert interface.cross_validated_assignments == ["li2co3"]


def test_update_interface_replaces_evidence(member, group, llzo):
    li = MaterialFactory(name="Li", formula="Li", family="other")
    interface = create_interface(
        user=member, group=group, name="i", material_a=li, material_b=llzo,
        evidence=[{"technique": "xps", "assigned_species": "Li2CO3"}],
    )
    update_interface(interface=interface, user=member, evidence=[{"technique": "raman", "assigned_species": "LiOH"}])
    assert list(InterfaceEvidence.objects.filter(interface=interface).values_list("technique", flat=True)) == ["raman"]


def test_invalid_evidence_rolls_back_the_interface(member, group, llzo):
    with pytest.raises(ValidationError) as caught:
        create_interface(
            user=member, group=group, name="i", material_a=llzo, material_b=llzo,
            evidence=[{"technique": "telepathy", "assigned_species": "x"}],
        )
    assert "evidence" in caught.value.message_dict
    assert Interface.objects.count() == 0


def test_create_electrode_validates_fractions(member, group):
    with pytest.raises(ValidationError) as caught:
        create_electrode(user=member, group=group, name="NMC", kind="cathode", carbon_fraction=1.2)
    assert "carbon_fraction" in caught.value.message_dict


def test_get_or_create_material_is_case_insensitive_and_fills_formula():
    first = get_or_create_material(name="Li6PS5Cl", family="argyrodite")
    again = get_or_create_material(name="li6ps5cl", formula="Li6PS5Cl")
    assert again.pk == first.pk and Material.objects.count() == 1
    assert Material.objects.get().formula == "Li6PS5Cl"


@pytest.mark.parametrize("spelling", ["10.1021/acs.chemmater.6b00579", "https://doi.org/10.1021/ACS.chemmater.6b00579", "doi: 10.1021/acs.chemmater.6b00579"])
def test_get_or_create_source_normalises_doi(spelling):
    get_or_create_source(doi="10.1021/acs.chemmater.6b00579", citation="Kraft et al.")
    assert get_or_create_source(doi=spelling).citation == "Kraft et al."
    assert Source.objects.count() == 1


def test_source_rejects_what_is_not_a_doi():
    with pytest.raises(ValidationError) as caught:
        get_or_create_source(doi="not a doi")
    assert "doi" in caught.value.message_dict


def test_thickness_change_requeues_analysis_of_the_separators_spectra(
    member, group, llzo, monkeypatch, django_capture_on_commit_callbacks
):
    from tests.factories import SpectrumFactory

    separator = _separator(member, group, llzo)
    spectrum = SpectrumFactory(group=group, cell__group=group, cell__separator=separator)
    queued = []
    monkeypatch.setattr("apps.analysis.services.queue_analysis", lambda **kwargs: queued.append(kwargs["spectrum_ids"]))
    with django_capture_on_commit_callbacks(execute=True):
        update_separator(separator=separator, user=member, name="renamed")
    assert queued == []  # a name does not change any conductivity
    with django_capture_on_commit_callbacks(execute=True):
        update_separator(separator=separator, user=member, thickness_um=700.0)
    assert queued == [[spectrum.pk]]
