"""The demo's release: each demo group releases its public demo separators, so a newcomer's public
leaderboards and dashboard are filled (public pages show released numbers only).

Published once the demo is analysed (entries are frozen at publication): right after `load_demo --analyse
now`, or by the `publish_demo_release` job, which waits for the queued analysis to finish.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.accounts.models import ResearchGroup, Visibility
from apps.benchmarks.models import BenchmarkEntry
from apps.catalog.demo import GROUPS
from apps.catalog.models import Separator

from .models import Release
from .services import release_publish

DEMO_DATASET_TITLE = "Demo: public separators of {group}"
DEMO_AUTHORS = [{"name": "User, Demo", "orcid": "0000-0002-1825-0097"}]  # ORCID's documented example iD


def publish_demo_releases() -> list[Release]:
    """One release per demo group of its public, analysed demo separators (none twice); the releases made."""
    demo = get_user_model().objects.get(username="demo")
    today = timezone.localdate()
    made = []
    for group in ResearchGroup.objects.filter(slug__in=list(GROUPS)).order_by("slug"):
        title = DEMO_DATASET_TITLE.format(group=group.name)
        if Release.objects.filter(group=group, title=title).exists():
            continue
        separators = Separator.objects.filter(group=group, visibility=Visibility.PUBLIC).exclude(
            embargo_until__gt=today)
        analysed = [s.pk for s in separators.order_by("pk")
                    if BenchmarkEntry.objects.filter(separator=s).exists()]
        if not analysed:
            continue
        made.append(release_publish(
            user=demo, group=group, title=title, authors=DEMO_AUTHORS,
            description="Synthetic spectra of the demo dataset (equivalent circuits with 0.4 % noise) and the "
                        "benchmark numbers computed from them, released so that the public leaderboards show them.",
            separator_ids=analysed,
        ))
    return made
