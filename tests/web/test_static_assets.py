"""plotly.js only where a page draws plots, and served compressed."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.accounts.models import Visibility
from tests.web.conftest import page_urls

PLOTLY = b"plotly/plotly.min"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("url", ["/", "/separators/", "/cells/", "/interfaces/", "/spectra/", "/materials/",
                                 "/jobs/", "/search/?q=LLZ", "/compare/", "/upload/"])
def test_pages_without_plots_do_not_load_plotly(client, member, records, url):
    client.force_login(member)
    response = client.get(url)
    assert response.status_code == 200
    assert PLOTLY not in response.content


@pytest.mark.parametrize("page", ["separator", "cell", "interface", "spectrum"])
def test_pages_with_plots_load_plotly_once(client, records, page):
    response = client.get(page_urls(records[Visibility.PUBLIC])[page])
    assert response.content.count(PLOTLY) == 1
    # before the script that draws the figures
    assert response.content.index(PLOTLY) < response.content.index(b"js/site.js")


def test_benchmarks_dashboard_loads_plotly(client, records):
    assert client.get("/benchmarks/").content.count(PLOTLY) == 1


def test_development_server_sends_plotly_compressed(client):
    """run_site serves static files through WhiteNoise, gzipped: 4.8 MB become about 1.5 MB on the wire."""
    response = client.get("/static/plotly/plotly.min.js", HTTP_ACCEPT_ENCODING="gzip")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    plain = client.get("/static/plotly/plotly.min.js")
    plain_size = len(b"".join(plain.streaming_content) if plain.streaming else plain.content)
    assert len(body) < 0.4 * plain_size


def test_production_stores_static_files_hashed_and_compressed():
    """With DEBUG off, collectstatic writes hashed, precompressed files that WhiteNoise caches for years."""
    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "test-only", "DJANGO_SETTINGS_MODULE": "assbdb.settings"}
    code = "from django.conf import settings; print(settings.STORAGES['staticfiles']['BACKEND'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_pages_are_not_gzipped_by_the_static_compression(client, db):
    """Only static files are compressed on the fly; pages and API answers stay as production sends them."""
    response = client.get("/", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert not response.has_header("Content-Encoding")
