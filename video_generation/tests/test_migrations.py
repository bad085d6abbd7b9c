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


def test_videos_delivered_before_retention_expire_video_retention_days_after_delivery(django_user_model, settings):
    from datetime import UTC, datetime, timedelta

    settings.VIDEO_RETENTION_DAYS = 90
    user = django_user_model.objects.create(username="retained")
    old = migrate([("video_generation", "0008_drop_job_user_status_index")])
    delivered_at = datetime(2026, 10, 1, 12, tzinfo=UTC)
    delivered = make_job(old, user.id, [])
    failed = make_job(old, user.id, [])
    jobs = old.get_model("video_generation", "VideoJob").objects
    jobs.filter(id=delivered.id).update(status="completed", completed_at=delivered_at)
    jobs.filter(id=failed.id).update(status="failed", completed_at=delivered_at)

    new = migrate([("video_generation", "0009_retention_expiry_and_purges")])
    jobs = new.get_model("video_generation", "VideoJob").objects
    assert jobs.get(id=delivered.id).video_expires_at == delivered_at + timedelta(days=90)
    assert jobs.get(id=failed.id).video_expires_at is None


def test_hold_memos_lose_the_product_title(django_user_model):
    user = django_user_model.objects.create(username="held")
    old = migrate([("billing", "0004_ledger_indexes_for_a_fast_insert")])
    account = old.get_model("billing", "UserProfile").objects.get(user_id=user.id)
    entries = old.get_model("billing", "LedgerEntry").objects
    hold = entries.create(account_id=account.id, kind="hold", amount=-3, balance_after=12, held_delta=3,
                          idempotency_key="hold:x:1", memo="Zelda's Secret Gadget: 3 credits quoted")
    grant = entries.create(account_id=account.id, kind="grant", amount=15, balance_after=15, granted_delta=15,
                           idempotency_key="grant:x", memo="Free plan credits")

    new = migrate([("billing", "0005_plan_video_retention_and_erased_accounts")])
    entries = new.get_model("billing", "LedgerEntry").objects
    assert entries.get(id=hold.id).memo == "3 credits quoted"
    assert entries.get(id=grant.id).memo == "Free plan credits"


def test_webhook_secrets_stored_in_the_clear_become_encrypted_and_read_back_the_same(django_user_model):
    from webhooks.models import Endpoint

    user = django_user_model.objects.create(username="hooked")
    old = migrate([("webhooks", "0001_initial")])
    endpoint = old.get_model("webhooks", "Endpoint").objects.create(
        user_id=user.id, url="https://hooks.example.com/r", events=["job.completed"],
        secret="whsec_bmV3LXNlY3JldC1ieXRlcy1mb3ItbWlncmF0aW9uLTMy", previous_secret="")

    migrate([("webhooks", "0002_encrypt_endpoint_secrets")])
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, previous_secret FROM webhooks_endpoint")
        [(stored, stored_previous)] = cursor.fetchall()
    assert "bmV3LXNlY3JldC1ieXRlcy" not in stored and stored_previous == ""
    assert Endpoint.objects.get(id=endpoint.id).secret == "whsec_bmV3LXNlY3JldC1ieXRlcy1mb3ItbWlncmF0aW9uLTMy"
