"""Ship version 1 of the standard fit protocols (see apps/analysis/protocols.py for the rule).

The data is written out here, not imported, so that this migration keeps
meaning what it meant when it was written.
"""
from django.db import migrations

ARC_N = [0.6, 1.0]  # a depressed arc, but still an arc
SPIKE_N = [0.3, 1.0]  # blocking-electrode spike or diffusion tail

STANDARD_PROTOCOLS = [
    {
        "name": "Blocking pellet",
        "circuit": "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3",
        "applies_to": ["blocking"],
        "element_roles": {
            "R0": "series", "R1": "bulk", "CPE1": "bulk", "R2": "grain_boundary", "CPE2": "grain_boundary",
            "CPE3": "electrode",
        },
        "bounds": {"CPE1_n": ARC_N, "CPE2_n": ARC_N, "CPE3_n": SPIKE_N},
        "description": (
            "Ceramic or glass pellet between ion-blocking electrodes with both the bulk and the grain-boundary "
            "arc inside the measured window. R0: leads and contacts; R1‖CPE1: bulk (the faster arc); "
            "R2‖CPE2: grain boundaries; CPE3: electrode polarisation. Total = R1 + R2."
        ),
    },
    {
        "name": "Blocking pellet, bulk arc beyond top frequency",
        "circuit": "R0-p(R1,CPE1)-CPE2",
        "applies_to": ["blocking"],
        "element_roles": {"R0": "bulk", "R1": "grain_boundary", "CPE1": "grain_boundary", "CPE2": "electrode"},
        "bounds": {"CPE1_n": ARC_N, "CPE2_n": SPIKE_N},
        "description": (
            "Pellet whose bulk arc lies above the highest measured frequency: the high-frequency intercept R0 "
            "is the bulk resistance, R1‖CPE1 the grain boundaries, CPE2 electrode polarisation. Total = R0 + R1."
        ),
    },
    {
        "name": "Symmetric Li cell",
        "circuit": "L0-R0-p(R1,CPE1)-p(R2,CPE2)",
        "applies_to": ["symmetric"],
        "element_roles": {
            "L0": "inductance", "R0": "total", "R1": "interface", "CPE1": "interface", "R2": "interface",
            "CPE2": "interface",
        },
        "bounds": {"CPE1_n": ARC_N, "CPE2_n": [0.4, 1.0]},
        "description": (
            "Li|SE|Li (or In–Li) cell: L0 lead inductance, R0 the whole separator (total), R1‖CPE1 and R2‖CPE2 "
            "the two interfaces' arcs (interfacial ASR from R1 + R2, halved for two identical interfaces)."
        ),
    },
    {
        "name": "Cell with electrodes",
        "circuit": "L0-R0-p(R1,CPE1)-p(R2,CPE2)-CPE3",
        "applies_to": ["half_cell", "full_cell"],
        "element_roles": {
            "L0": "inductance", "R0": "total", "R1": "interface", "CPE1": "interface", "R2": "interface",
            "CPE2": "interface", "CPE3": "electrode",
        },
        "bounds": {"CPE1_n": ARC_N, "CPE2_n": [0.4, 1.0], "CPE3_n": SPIKE_N},
        "description": (
            "Half or full cell with a composite electrode: L0 lead inductance, R0 separator (total), R1‖CPE1 and "
            "R2‖CPE2 interface and charge-transfer arcs, CPE3 the electrode's blocking or diffusion tail."
        ),
    },
    {
        "name": "Hybrid or polymer separator",
        "circuit": "R0-p(R1,CPE1)-CPE2",
        "applies_to": ["blocking"],
        "element_roles": {"R0": "total", "R1": "total", "CPE1": "total", "CPE2": "electrode"},
        "bounds": {"CPE1_n": [0.4, 1.0], "CPE2_n": SPIKE_N},
        "description": (
            "Polymer or ceramic–polymer hybrid between blocking electrodes. The arcs of the phases and their "
            "interfaces overlap, so only the total ionic resistance R0 + R1 (where the electrode spike starts) "
            "is reported; CPE2 electrode polarisation."
        ),
    },
]


def create_standard_protocols(apps, schema_editor):
    FitProtocol = apps.get_model("analysis", "FitProtocol")
    for spec in STANDARD_PROTOCOLS:
        FitProtocol.objects.update_or_create(
            name=spec["name"],
            version=1,
            defaults={
                "circuit": spec["circuit"],
                "description": spec["description"],
                "weighting": "modulus",
                "element_roles": spec["element_roles"],
                "bounds": spec["bounds"],
                "applies_to": spec["applies_to"],
                "is_standard": True,
            },
        )


def remove_unused_standard_protocols(apps, schema_editor):
    FitProtocol = apps.get_model("analysis", "FitProtocol")
    FitProtocol.objects.filter(
        name__in=[spec["name"] for spec in STANDARD_PROTOCOLS], version=1, is_standard=True, fits__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("analysis", "0002_job_dispatch_and_result")]

    operations = [migrations.RunPython(create_standard_protocols, remove_unused_standard_protocols)]
