"""Create/edit forms of separators, cells and interfaces: valid input stored through the services, bad input explained."""
import pytest

from apps.accounts.models import Visibility
from apps.catalog.models import Cell, Interface, Separator
from tests.factories import MaterialFactory, SeparatorFactory


def management(prefix: str, total: int) -> dict:
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": "0", f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}


def separator_post(group, material, **overrides) -> dict:
    data = {
        "name": "LPSCl cold-pressed",
        "form": "pellet",
        "processing_route": "cold_pressing",
        "densification_pressure_mpa": "370",
        "thickness_um": "650",
        "area_cm2": "0.785",
        "relative_density": "0.86",
        "group": str(group.pk),
        "visibility": Visibility.GROUP,
        **management("components", 1),
        "components-0-material": str(material.pk),
        "components-0-role": "fast_ion_phase",
        "components-0-fraction": "1",
        "components-0-fraction_basis": "weight",
    }
    data.update(overrides)
    return data


@pytest.fixture
def material(db):
    return MaterialFactory(name="Li6PS5Cl", formula="Li6PS5Cl", family="argyrodite")


def test_create_separator_stores_it_with_components(client, member, group, material):
    client.force_login(member)
    response = client.post("/separators/new/", separator_post(group, material))
    separator = Separator.objects.get(name="LPSCl cold-pressed")
    assert response.status_code == 302 and response["Location"] == f"/separators/{separator.pk}/"
    assert separator.group == group and separator.created_by == member
    assert [(c.material, c.role, c.fraction) for c in separator.components.all()] == [(material, "fast_ion_phase", 1.0)]


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("thickness_um", "-5", "greater than zero"),
        ("relative_density", "1.4", "less than or equal to 1"),
        ("name", "", "This field is required"),
        ("components-0-fraction", "2", "less than or equal to 1"),
    ],
)
def test_invalid_separator_shows_field_error_and_stores_nothing(client, member, group, material, field, value, message):
    client.force_login(member)
    response = client.post("/separators/new/", separator_post(group, material, **{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Separator.objects.exists()


def test_component_fractions_over_one_rejected_by_service_with_message(client, member, group, material):
    other = MaterialFactory(name="PEO", family="polymer")
    data = separator_post(group, material, **management("components", 2))
    data.update({"components-1-material": str(other.pk), "components-1-role": "polymer_matrix", "components-1-fraction": "0.5", "components-1-fraction_basis": "weight"})
    client.force_login(member)
    response = client.post("/separators/new/", data)
    assert response.status_code == 200
    assert "cannot exceed 1" in response.content.decode()
    assert not Separator.objects.exists()


def test_cannot_create_in_a_group_one_is_not_in(client, outsider, group, material):
    client.force_login(outsider)
    response = client.post("/separators/new/", separator_post(group, material))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Separator.objects.exists()


def test_edit_separator_replaces_fields_and_components(client, member, group, material):
    separator = SeparatorFactory(group=group)
    client.force_login(member)
    form = client.get(f"/separators/{separator.pk}/edit/")
    assert form.context["formsets"][0][1].initial[0]["role"] == "fast_ion_phase"
    data = separator_post(group, material, name="renamed")
    data.pop("group")
    response = client.post(f"/separators/{separator.pk}/edit/", data)
    assert response.status_code == 302
    separator.refresh_from_db()
    assert separator.name == "renamed" and separator.thickness_um == 650
    assert [c.material for c in separator.components.all()] == [material]


@pytest.mark.parametrize("who,status", [("outsider", 404), ("anonymous", 302)])
def test_edit_page_refused_to_non_members(client, outsider, group, who, status):
    separator = SeparatorFactory(group=group, visibility=Visibility.GROUP)
    if who == "outsider":
        client.force_login(outsider)
    assert client.get(f"/separators/{separator.pk}/edit/").status_code == status


def test_public_record_of_another_group_cannot_be_edited(client, outsider, group):
    separator = SeparatorFactory(group=group, visibility=Visibility.PUBLIC)
    client.force_login(outsider)
    assert client.get(f"/separators/{separator.pk}/edit/").status_code == 403


def cell_post(group, separator, **overrides) -> dict:
    data = {
        "name": "Au|LPSCl|Au",
        "configuration": "blocking",
        "housing": "die",
        "electrode_contact": "au",
        "separator": str(separator.pk),
        "active_area_cm2": "0.785",
        "group": str(group.pk),
        "visibility": Visibility.GROUP,
        **management("layers", 3),
        "layers-0-kind": "current_collector",
        "layers-0-description": "Au foil",
        "layers-1-kind": "separator",
        "layers-1-separator": str(separator.pk),
        "layers-1-thickness_um": "650",
        "layers-2-kind": "current_collector",
        "layers-2-description": "Au foil",
        **management("steps", 2),
        "steps-0-phase": "densification",
        "steps-0-pressure_mpa": "370",
        "steps-0-duration_min": "5",
        "steps-1-phase": "measurement",
        "steps-1-pressure_mpa": "10",
    }
    data.update(overrides)
    return data


def test_create_cell_with_layer_stack_and_pressure_history(client, member, group):
    separator = SeparatorFactory(group=group)
    client.force_login(member)
    response = client.post("/cells/new/", cell_post(group, separator))
    cell = Cell.objects.get(name="Au|LPSCl|Au")
    assert response["Location"] == f"/cells/{cell.pk}/"
    assert [(layer.position, layer.kind) for layer in cell.layers.all()] == [
        (0, "current_collector"),
        (1, "separator"),
        (2, "current_collector"),
    ]
    assert [(s.phase, s.pressure_mpa) for s in cell.pressure_steps.all()] == [("densification", 370.0), ("measurement", 10.0)]


def test_deleted_and_blank_rows_are_not_stored(client, member, group):
    separator = SeparatorFactory(group=group)
    data = cell_post(group, separator, **management("steps", 3))
    data.update({"steps-0-DELETE": "on"})  # row 3 left blank
    client.force_login(member)
    client.post("/cells/new/", data)
    assert [s.phase for s in Cell.objects.get().pressure_steps.all()] == ["measurement"]


def test_cell_form_stores_the_lead_resistance_and_the_page_shows_it(client, member, group):
    separator = SeparatorFactory(group=group)
    client.force_login(member)
    client.post("/cells/new/", cell_post(group, separator, lead_resistance_ohm="0.75"))
    cell = Cell.objects.get(name="Au|LPSCl|Au")
    assert cell.lead_resistance_ohm == 0.75
    assert "0.75 Ω" in client.get(f"/cells/{cell.pk}/").content.decode()


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"steps-1-pressure_mpa": "-3"}, "greater than or equal to 0"),
        ({"lead_resistance_ohm": "-1"}, "greater than or equal to 0"),
        ({"layers-1-separator": ""}, "A separator layer needs the separator it is"),
        ({"active_area_cm2": "0"}, "greater than zero"),
        ({"configuration": "teapot"}, "Select a valid choice"),
    ],
)
def test_invalid_cell_shows_error_and_stores_nothing(client, member, group, overrides, message):
    separator = SeparatorFactory(group=group)
    client.force_login(member)
    response = client.post("/cells/new/", cell_post(group, separator, **overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Cell.objects.exists()


def test_cell_form_offers_only_visible_separators(client, member, group, outsider):
    mine = SeparatorFactory(group=group, visibility=Visibility.GROUP)
    hidden = SeparatorFactory(visibility=Visibility.PRIVATE)
    client.force_login(member)
    choices = list(client.get("/cells/new/").context["form"].fields["separator"].queryset)
    assert mine in choices and hidden not in choices


def interface_post(group, a, b, **overrides) -> dict:
    data = {
        "name": "Li|LLZO with Al2O3",
        "material_a": str(a.pk),
        "material_b": str(b.pk),
        "interlayer_thickness_nm": "5",
        "coating_method": "ALD",
        "group": str(group.pk),
        "visibility": Visibility.PUBLIC,
        **management("evidence", 2),
        "evidence-0-technique": "nmr",
        "evidence-0-assigned_species": "LiAlO2",
        "evidence-0-measured_value": "12.5",
        "evidence-0-value_unit": "ppm",
        "evidence-1-technique": "dft",
        "evidence-1-assigned_species": "LiAlO2",
        "evidence-1-computed_value": "12.1",
        "evidence-1-value_unit": "ppm",
    }
    data.update(overrides)
    return data


def test_create_interface_with_evidence_is_cross_validated(client, member, group):
    a, b = MaterialFactory(name="Li"), MaterialFactory(name="LLZO")
    client.force_login(member)
    response = client.post("/interfaces/new/", interface_post(group, a, b))
    interface = Interface.objects.get()
    assert response["Location"] == f"/interfaces/{interface.pk}/"
    assert interface.cross_validated_assignments == ["lialo2"]
    assert "cross-validated" in client.get(response["Location"]).content.decode()


def test_evidence_row_without_assignment_is_an_error(client, member, group):
    a, b = MaterialFactory(name="Li"), MaterialFactory(name="LLZO")
    client.force_login(member)
    response = client.post("/interfaces/new/", interface_post(group, a, b, **{"evidence-1-assigned_species": ""}))
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not Interface.objects.exists()


def test_signed_in_user_adds_a_material_once(client, member):
    from apps.catalog.models import Material

    client.force_login(member)
    response = client.post("/materials/new/", {"name": "Li3YCl6", "formula": "Li3YCl6", "family": "halide"})
    material = Material.objects.get(name="Li3YCl6")
    assert response["Location"] == f"/materials/{material.pk}/" and material.family == "halide"
    client.post("/materials/new/", {"name": "li3ycl6", "family": "halide"})
    assert Material.objects.filter(name__iexact="li3ycl6").count() == 1


def test_material_without_name_is_refused(client, member):
    from apps.catalog.models import Material

    client.force_login(member)
    response = client.post("/materials/new/", {"name": "", "family": "halide"})
    assert "This field is required" in response.content.decode()
    assert not Material.objects.exists()


def test_member_creates_an_electrode_then_uses_it_in_a_layer(client, member, group):
    from apps.catalog.models import Electrode

    client.force_login(member)
    response = client.post(
        "/electrodes/new/",
        {"name": "Li foil 50 µm", "kind": "anode", "is_metal_foil": "on", "thickness_um": "50", "group": group.pk, "visibility": "group"},
    )
    electrode = Electrode.objects.get()
    assert response.status_code == 302 and electrode.group == group and electrode.is_metal_foil
    layer_form = client.get("/cells/new/").context["formsets"][0][1].empty_form
    assert electrode in list(layer_form.fields["electrode"].queryset)


def test_electrode_with_fraction_above_one_is_refused(client, member, group):
    from apps.catalog.models import Electrode

    client.force_login(member)
    response = client.post(
        "/electrodes/new/", {"name": "NMC composite", "kind": "cathode", "carbon_fraction": "1.5", "group": group.pk, "visibility": "group"}
    )
    assert "less than or equal to 1" in response.content.decode()
    assert not Electrode.objects.exists()


def test_edit_cell_keeps_rows_and_replaces_them_on_save(client, member, group):
    from apps.catalog.models import PressureStep
    from tests.factories import CellFactory, CellLayerFactory, PressureStepFactory

    separator = SeparatorFactory(group=group)
    cell = CellFactory(group=group, separator=separator)
    CellLayerFactory(cell=cell, position=0, kind="separator", separator=separator)
    PressureStepFactory(cell=cell, position=0, phase="densification", pressure_mpa=300.0)
    client.force_login(member)
    form = client.get(f"/cells/{cell.pk}/edit/")
    layers, steps = (fs for _, fs in form.context["formsets"])
    assert layers.initial == [{"kind": "separator", "separator": separator.pk, "electrode": None, "material": None, "thickness_um": None, "description": ""}]
    assert steps.initial[0]["pressure_mpa"] == 300.0
    data = cell_post(group, separator, name="renamed cell")
    data.pop("group")
    response = client.post(f"/cells/{cell.pk}/edit/", data)
    assert response.status_code == 302
    cell.refresh_from_db()
    assert cell.name == "renamed cell" and cell.layers.count() == 3
    assert list(PressureStep.objects.filter(cell=cell).values_list("pressure_mpa", flat=True)) == [370.0, 10.0]


def test_edit_interface_replaces_evidence(client, member, group):
    from tests.factories import InterfaceEvidenceFactory, InterfaceFactory

    a, b = MaterialFactory(name="Li"), MaterialFactory(name="LLZO")
    interface = InterfaceFactory(group=group, material_a=a, material_b=b)
    InterfaceEvidenceFactory(interface=interface, technique="xps", assigned_species="Li2CO3")
    client.force_login(member)
    assert client.get(f"/interfaces/{interface.pk}/edit/").context["formsets"][0][1].initial[0]["technique"] == "xps"
    data = interface_post(group, a, b)
    data.pop("group")
    assert client.post(f"/interfaces/{interface.pk}/edit/", data).status_code == 302
    assert sorted(interface.evidence.values_list("technique", flat=True)) == ["dft", "nmr"]


@pytest.mark.parametrize("who,shows_edit", [("member", True), ("outsider", False), ("anonymous", False)])
def test_edit_button_only_for_group_members(client, member, outsider, group, who, shows_edit):
    separator = SeparatorFactory(group=group, visibility=Visibility.PUBLIC)
    if who != "anonymous":
        client.force_login(member if who == "member" else outsider)
    body = client.get(f"/separators/{separator.pk}/").content.decode()
    assert (f"/separators/{separator.pk}/edit/" in body) is shows_edit


def test_separator_form_finds_or_creates_its_source_by_doi(client, member, group, material):
    from apps.catalog.models import Source

    existing = Source.objects.create(doi="10.1021/acsenergylett.0c01234", citation="Known paper")
    client.force_login(member)
    client.post("/separators/new/", separator_post(group, material, source_doi="https://doi.org/10.1021/ACSENERGYLETT.0C01234"))
    client.post("/separators/new/", separator_post(group, material, name="second", source_doi="doi:10.1149/2.0021507jes"))
    first, second = Separator.objects.get(name="LPSCl cold-pressed"), Separator.objects.get(name="second")
    assert first.source == existing
    assert second.source.doi == "10.1149/2.0021507jes" and Source.objects.count() == 2


@pytest.mark.parametrize("doi", ["10.12/short-registrant", "not a doi", "10.1021"])
def test_malformed_doi_is_explained_and_nothing_is_stored(client, member, group, material, doi):
    from apps.catalog.models import Source

    client.force_login(member)
    response = client.post("/separators/new/", separator_post(group, material, source_doi=doi))
    assert response.status_code == 200
    assert "is not a DOI" in response.content.decode()
    assert not Separator.objects.exists() and not Source.objects.exists()


def test_cell_refused_by_the_service_leaves_no_new_source_behind(client, member, group, monkeypatch):
    from django.core.exceptions import ValidationError

    from apps.catalog import services
    from apps.catalog.models import Source

    def refuse(**kwargs):
        assert kwargs["source"].doi == "10.1016/j.ssi.2020.115000"  # created inside the write's transaction
        raise ValidationError({"name": "refused by the service"})

    monkeypatch.setattr(services, "create_cell", refuse)
    client.force_login(member)
    response = client.post("/cells/new/", {
        "name": "Au|LLZTO|Au", "configuration": "blocking", "group": group.pk, "visibility": "group",
        "source_doi": "10.1016/j.ssi.2020.115000", **management("layers", 0), **management("steps", 0),
    })
    assert response.status_code == 200 and "refused by the service" in response.content.decode()
    assert not Source.objects.exists()
