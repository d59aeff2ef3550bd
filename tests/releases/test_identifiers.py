"""ORCID checksums (ISO 7064 MOD 11-2) and SPDX licence ids."""
import pytest

from apps.releases.identifiers import normalise_orcid, orcid_check_digit, spdx_licence


@pytest.mark.parametrize("base, check", [
    ("000000021825009", "7"),   # the ORCID documentation's example iD
    ("000000015109370", "0"),
    ("000000021694233", "X"),   # check value 10 is written X
    ("000000015000000", "7"),   # another documented example, 0000-0001-5000-0007
])
def test_orcid_check_digit_table(base, check):
    assert orcid_check_digit(base) == check


@pytest.mark.parametrize("spelling", [
    "0000-0002-1825-0097", "https://orcid.org/0000-0002-1825-0097", "0000000218250097", " 0000-0002-1825-0097 ",
])
def test_orcid_spellings_normalise(spelling):
    assert normalise_orcid(spelling) == "0000-0002-1825-0097"


def test_orcid_x_check_character_accepted_in_lower_case():
    assert normalise_orcid("0000-0002-1694-233x") == "0000-0002-1694-233X"


@pytest.mark.parametrize("bad, message", [
    ("0000-0002-1825-0098", "bad checksum: the last character should be 7"),
    ("0000-0002-1694-2339", "should be X"),
    ("0000-0002-1825", "is not an ORCID iD"),
    ("abcd-0002-1825-0097", "is not an ORCID iD"),
])
def test_bad_orcid_is_refused_naming_the_problem(bad, message):
    with pytest.raises(ValueError, match=message):
        normalise_orcid(bad)


@pytest.mark.parametrize("identifier, canonical", [
    ("CC-BY-4.0", "CC-BY-4.0"), ("cc0-1.0", "CC0-1.0"), ("MIT", "MIT"), ("ODbL-1.0", "ODbL-1.0"),
])
def test_spdx_ids_are_accepted_and_spelled_canonically(identifier, canonical):
    assert spdx_licence(identifier).id == canonical


@pytest.mark.parametrize("bad", ["CC-BY", "Creative Commons", "GPL", "", "CC-BY-4.0 OR MIT"])
def test_non_spdx_licence_is_refused(bad):
    with pytest.raises(ValueError, match="is not an SPDX licence identifier"):
        spdx_licence(bad)
