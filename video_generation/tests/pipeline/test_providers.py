"""One Veo client per model: the model is part of every Vertex URL."""

import pytest
import respx

from video_generation.pipeline import providers
from video_generation.services import gcp_auth

FAST = "veo-3.1-fast-generate-001"


@pytest.fixture
def fresh_clients(monkeypatch, settings):
    settings.GCP_PROJECT_ID = "proj"
    settings.VEO_LOCATION = "us-central1"
    settings.VEO_API_BASE_URL = "https://vertex.test"
    monkeypatch.setattr(gcp_auth.GCPAuthManager, "get_access_token", lambda self: "token")
    providers.veo.cache_clear()
    yield
    providers.veo.cache_clear()


def test_each_model_has_its_own_client_kept_for_the_process(fresh_clients):
    fast, standard = providers.veo(FAST), providers.veo("veo-3.1-generate-001")
    assert (fast.model_id, standard.model_id) == (FAST, "veo-3.1-generate-001")
    assert providers.veo(FAST) is fast


def test_the_client_of_a_model_submits_to_that_models_path(fresh_clients):
    from video_generation.services.veo_service import MediaRef

    path = f"https://vertex.test/v1/projects/proj/locations/us-central1/publishers/google/models/{FAST}"
    with respx.mock as google:
        route = google.post(f"{path}:predictLongRunning").respond(
            200, json={"name": f"projects/proj/locations/us-central1/publishers/google/models/{FAST}/operations/1"})
        providers.veo(FAST).generate_base_video(
            prompt="p", image=MediaRef(mime_type="image/png", gcs_uri="gs://b/i.png"), storage_uri=None,
            duration_seconds=8, aspect_ratio="9:16", generate_audio=False)
    assert route.call_count == 1
