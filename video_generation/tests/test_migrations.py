"""Data migrations bring rows that were in flight during a deploy along."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("video_generation", "0003_step_redrives")]
AFTER = [("video_generation", "0004_step_running_state_and_broll_source")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def every_app_migrated_again_afterwards():
    """Going back to an old state unapplies the apps that depend on it (billing): later tests need them back."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def make_job(apps, user_id, keys_and_kinds):
    VideoJob = apps.get_model("video_generation", "VideoJob")
    JobStep = apps.get_model("video_generation", "JobStep")
    job = VideoJob.objects.create(user_id=user_id, product_title="P", scenes_data=[], avatar_script="s",
                                  avatar_id="a", voice_id="v", image_url="https://cdn.example.com/p.jpg")
    for key, kind, state in keys_and_kinds:
        scene = int(key.rsplit(":s", 1)[1]) if key.startswith("veo:") else None
        JobStep.objects.create(job=job, key=key, kind=kind, provider="local", state=state, scene_index=scene)
    return job


def test_claimed_local_work_becomes_running_and_every_job_learns_its_broll_source(django_user_model):
    user = django_user_model.objects.create(username="migrating")
    old = migrate(BEFORE)
    one_chain = make_job(old, user.id, [
        ("image", "fetch_image", "succeeded"), ("veo:c0:s0", "veo_generate", "succeeded"),
        ("veo:c0:s1", "veo_extend", "submitted"), ("heygen:render", "heygen_render", "submitted"),
        ("compose", "compose", "pending")])
    two_chains = make_job(old, user.id, [
        ("image", "fetch_image", "submitting"), ("veo:c0:s0", "veo_generate", "pending"),
        ("veo:c1:s5", "veo_generate", "pending"), ("join", "join_broll", "pending"),
        ("heygen:upload", "heygen_upload", "pending"), ("compose", "compose", "pending")])

    new = migrate(AFTER)
    steps = new.get_model("video_generation", "JobStep").objects

    def params(job, key):
        return steps.get(job_id=job.id, key=key).params

    assert params(one_chain, "veo:c0:s1") == {"yields_broll": True}
    assert params(one_chain, "compose") == {"broll_key": "veo:c0:s1"}
    assert params(two_chains, "join") == {"yields_broll": True}
    assert params(two_chains, "heygen:upload") == {"broll_key": "join"}
    assert params(two_chains, "compose") == {"broll_key": "join"}
    assert steps.get(job_id=two_chains.id, key="image").state == "running"
    assert steps.get(job_id=one_chain.id, key="veo:c0:s1").state == "submitted"
