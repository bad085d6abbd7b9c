"""DELETE /api/account/: the account, its jobs and their files are erased; only the anonymised record of money
stays; nothing of another user is touched."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from rest_framework.test import APIClient

from accounts import services
from accounts.models import JobUsageRecord
from accounts.signals import account_erasing
from api_keys.models import ApiKey
from billing import ledger
from billing.models import EntryKind, LedgerEntry, UserProfile
from video_generation.models import JobStatus, JobStep, StoragePurge, VideoJob
from video_generation.pipeline import machine
from video_generation.pipeline.transitions import complete_job
from video_generation.services.storage import get_storage

from .helpers import rows_containing, start_job, store_files

pytestmark = pytest.mark.django_db

USER_ID = 987654321  # distinctive, so that a search for it finds only what names this user
USERNAME = "zelda-erasable"
EMAIL = "zelda.erasable@example.org"
PRODUCT = "Zelda's Secret Gadget"


@pytest.fixture
def zelda(django_user_model):
    return django_user_model.objects.create_user(id=USER_ID, username=USERNAME, email=EMAIL, password="pw-zelda-1")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", email="bob@example.org", password="pw-bob-123")


def erase(client: APIClient, confirm=USERNAME):
    return client.delete("/api/account/", {"confirm": confirm}, format="json")


def files_of(job) -> list[str]:
    from video_generation.retention import job_files

    return job_files(job.id)


# --- Confirmation -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [None, {}, {"confirm": 5}, {"confirm": None}, ["zelda-erasable"], "zelda-erasable",
                                  {"confirm": ""}, {"confirm": USERNAME, "also": "x"}])
def test_an_erasure_without_a_confirmation_is_a_400_and_erases_nothing(zelda, token_client, body):
    job = start_job(zelda)
    response = token_client(zelda).delete("/api/account/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "Validation error"
    assert get_user_model().objects.filter(id=USER_ID).exists()
    assert VideoJob.objects.filter(id=job.id).exists()


@pytest.mark.parametrize("name", ["bob", USERNAME.upper(), USERNAME + " ", " " + USERNAME, USERNAME[:-1],
                                  "zelda\x00", " "])
def test_a_confirmation_naming_anyone_else_is_a_422_and_erases_nothing(zelda, bob, token_client, name):
    job = start_job(zelda)
    response = erase(token_client(zelda), confirm=name)
    assert response.status_code == 422
    assert "nothing was erased" in response.json()["error"]
    assert get_user_model().objects.filter(id=USER_ID).exists() and get_user_model().objects.filter(id=bob.id)
    assert VideoJob.objects.filter(id=job.id).exists()


def test_an_anonymous_delete_is_a_401(zelda):
    assert APIClient().delete("/api/account/", {"confirm": USERNAME}, format="json").status_code == 401
    assert get_user_model().objects.filter(id=USER_ID).exists()


# --- What goes ------------------------------------------------------------------------------------------------------

def test_erasure_answers_204_and_the_same_credentials_fail_at_once(zelda, token_client):
    client = token_client(zelda)
    assert erase(client).status_code == 204
    assert client.get("/api/account/").status_code == 401
    assert erase(client).status_code == 401  # a repeat finds nobody to erase
    assert not get_user_model().objects.filter(id=USER_ID).exists()
    assert not ApiKey.objects.filter(user_id=USER_ID).exists()


def test_erasure_deletes_every_file_of_the_users_jobs_from_gcs_and_keeps_the_other_users(gcs, emulator_admin, zelda,
                                                                                        bob, token_client):
    mine = [start_job(zelda), start_job(zelda, product_title=PRODUCT)]
    theirs = start_job(bob)
    for job in (*mine, theirs):
        store_files(job)
    bucket = emulator_admin.bucket(gcs.bucket_name)
    before = {blob.name for blob in bucket.list_blobs()}
    assert sum(str(mine[0].id) in name for name in before) == 7  # with the poster and the preview

    assert erase(token_client(zelda)).status_code == 204

    after = {blob.name for blob in bucket.list_blobs()}
    assert not [name for name in after if any(str(job.id) in name for job in mine)]
    assert {name for name in before if str(theirs.id) in name} <= after
    assert len(files_of(theirs)) == 7
    assert VideoJob.objects.filter(id=theirs.id).exists()
    assert get_user_model().objects.filter(username="bob").exists()


def test_no_row_in_any_table_names_the_user_or_their_content_after_the_erasure(zelda, bob, token_client,
                                                                             admin_user, client):
    job = start_job(zelda, product_title=PRODUCT)
    store_files(job)
    start_job(bob)
    account = UserProfile.objects.get(user=zelda)
    ledger.adjust(account.id, 5, reason=f"goodwill for {USERNAME} <{EMAIL}>", by=admin_user, key="adjust:zelda:1")
    UserProfile.objects.filter(id=account.id).update(stripe_customer_id="cus_Zelda123")
    LogEntry.objects.create(user=admin_user, content_type=ContentType.objects.get_for_model(get_user_model()),
                            object_id=str(USER_ID), object_repr=USERNAME, action_flag=CHANGE)
    client.force_login(zelda)  # a session of the user's
    assert rows_containing(USERNAME) and rows_containing(PRODUCT)

    assert erase(token_client(zelda)).status_code == 204

    for text in (USERNAME, EMAIL, str(USER_ID), PRODUCT, "cus_Zelda123"):
        assert rows_containing(text) == [], text
    assert not [session for session in Session.objects.all()
                if session.get_decoded().get("_auth_user_id") == str(USER_ID)]
    assert rows_containing("bob@example.org")  # the other user is all there


def test_the_account_stays_anonymised_with_its_ledger_and_a_usage_row_per_job(zelda):
    job = start_job(zelda)
    account = UserProfile.objects.get(user=zelda)
    entries = LedgerEntry.objects.filter(account=account).count()

    assert services.erase_account(USER_ID) is True

    account.refresh_from_db()
    assert account.user_id is None and account.erased_at is not None
    assert account.stripe_customer_id == "" and account.stripe_subscription_id == ""
    assert LedgerEntry.objects.filter(account=account).count() == entries + 1  # the running job's hold released
    usage = JobUsageRecord.objects.get(job_id=job.id)
    assert (usage.account_id, usage.status) == (account.id, JobStatus.CANCELLED)
    assert not VideoJob.objects.filter(id=job.id).exists() and not JobStep.objects.filter(job_id=job.id).exists()


def test_an_erased_account_gets_no_more_periods(zelda):
    from datetime import timedelta

    from django.utils import timezone

    account = UserProfile.objects.get(user=zelda)
    services.erase_account(USER_ID)
    UserProfile.objects.filter(id=account.id).update(period_end=timezone.now() - timedelta(days=1))
    grants = LedgerEntry.objects.filter(account=account, kind=EntryKind.GRANT).count()
    assert ledger.roll_over_due() == 0
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.GRANT).count() == grants


# --- Running jobs, races ----------------------------------------------------------------------------------------------

def test_a_running_job_is_cancelled_first_and_its_hold_released_not_charged(zelda):
    job = start_job(zelda)
    account = UserProfile.objects.get(user=zelda)
    assert account.held_credits > 0
    available = account.available_credits + account.held_credits  # what is left once the hold is released

    services.erase_account(USER_ID)

    kinds = list(LedgerEntry.objects.filter(job_id=job.id).order_by("id").values_list("kind", flat=True))
    assert kinds == [EntryKind.HOLD, EntryKind.RELEASE]
    account.refresh_from_db()
    assert (account.held_credits, account.jobs_in_progress) == (0, 0)
    assert account.available_credits == available


def test_a_job_finishing_after_the_erasure_changes_nothing_and_raises_nothing(zelda):
    job = start_job(zelda)
    step_ids = list(JobStep.objects.filter(job=job).values_list("id", flat=True))
    services.erase_account(USER_ID)
    entries = LedgerEntry.objects.count()

    assert complete_job(job.id, final_uri="file:///nowhere/final.mp4", duration_seconds=8) is False
    ledger.settle_job(job.id, JobStatus.COMPLETED, 3)
    machine.advance_job(job.id)
    for step_id in step_ids:
        machine.run_step(step_id)
        machine.poll_step(step_id)
    assert LedgerEntry.objects.count() == entries


def test_a_job_that_completed_before_the_erasure_stays_charged(zelda):
    job = start_job(zelda)
    assert complete_job(job.id, final_uri="file:///nowhere/final.mp4", duration_seconds=8)
    services.erase_account(USER_ID)
    kinds = set(LedgerEntry.objects.filter(job_id=job.id).values_list("kind", flat=True))
    assert EntryKind.CAPTURE in kinds
    assert JobUsageRecord.objects.get(job_id=job.id).status == JobStatus.COMPLETED


def test_erasing_twice_is_harmless(zelda):
    assert services.erase_account(USER_ID) is True
    assert services.erase_account(USER_ID) is False


def test_a_paid_subscription_must_be_cancelled_first(zelda, token_client):
    UserProfile.objects.filter(user=zelda).update(stripe_subscription_id="sub_123")
    response = erase(token_client(zelda))
    assert response.status_code == 409
    assert "subscription" in response.json()["error"]
    assert get_user_model().objects.filter(id=USER_ID).exists()


def test_other_domains_hear_of_the_erasure_inside_its_transaction(zelda):
    heard = []

    def receiver(sender, *, user_id, **kwargs):
        heard.append((user_id, get_user_model().objects.filter(id=user_id).exists()))

    account_erasing.connect(receiver, dispatch_uid="test-erasure")
    try:
        services.erase_account(USER_ID)
    finally:
        account_erasing.disconnect(dispatch_uid="test-erasure")
    assert heard == [(USER_ID, True)]  # before the user row goes


def test_a_receiver_that_fails_undoes_the_erasure(zelda):
    job = start_job(zelda)

    def receiver(sender, **kwargs):
        raise RuntimeError("cannot erase")

    account_erasing.connect(receiver, dispatch_uid="test-erasure-fails")
    try:
        with pytest.raises(RuntimeError):
            services.erase_account(USER_ID)
    finally:
        account_erasing.disconnect(dispatch_uid="test-erasure-fails")
    assert VideoJob.objects.filter(id=job.id).exists()
    assert UserProfile.objects.get(user_id=USER_ID).erased_at is None


def test_files_a_failing_storage_could_not_delete_are_deleted_by_the_retention_task(zelda, monkeypatch):
    from video_generation import retention
    from video_generation.services.storage import StorageError

    job = start_job(zelda)
    store_files(job)
    backend, outage = type(get_storage()), {"on": True}
    delete = backend.delete

    def failing_delete(self, uri):
        if outage["on"]:
            raise StorageError("storage is down")
        return delete(self, uri)

    monkeypatch.setattr(backend, "delete", failing_delete)
    services.erase_account(USER_ID)
    assert len(files_of(job)) == 7
    assert StoragePurge.objects.filter(job_id=job.id, passes_left=2).exists()

    outage["on"] = False
    retention.sweep()
    assert files_of(job) == []


def test_a_file_written_by_a_step_still_running_is_deleted_by_the_second_look(zelda, settings):
    from datetime import timedelta

    from django.utils import timezone

    from video_generation import retention

    job = start_job(zelda)
    store_files(job)
    services.erase_account(USER_ID)
    assert files_of(job) == []
    store_files(job, ["final.mp4"])  # a compose that was running uploads after the erasure
    retention.sweep()
    assert len(files_of(job)) == 1  # not yet: the second look waits PURGE_RECHECK_SECONDS
    retention.sweep(now=timezone.now() + timedelta(seconds=settings.PURGE_RECHECK_SECONDS + 1))
    assert files_of(job) == []
    assert not StoragePurge.objects.filter(job_id=job.id).exists()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_an_erasure_racing_a_job_completion_settles_the_ledger_either_way(django_user_model):
    """PostgreSQL: the job's final transition and the erasure run at once; whichever locks first, nothing crashes,
    the hold is ended exactly once and the account balances."""
    import threading

    from django.db import connection

    user = django_user_model.objects.create_user(id=USER_ID, username=USERNAME, password="pw")
    for _ in range(5):
        job = start_job(user)
        account = UserProfile.objects.get(user=user)
        errors, barrier = [], threading.Barrier(2)

        def run(action, errors=errors, barrier=barrier):
            try:
                barrier.wait()
                action()
            except Exception as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=run, args=(lambda job=job: complete_job(
                       job.id, final_uri="file:///x/final.mp4", duration_seconds=8),)),
                   threading.Thread(target=run, args=(lambda: services.erase_account(USER_ID),))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        account.refresh_from_db()
        assert (account.held_credits, account.jobs_in_progress) == (0, 0)
        ended = LedgerEntry.objects.filter(job_id=job.id, kind=EntryKind.RELEASE).count()
        assert ended == 1
        user = django_user_model.objects.create_user(id=USER_ID, username=USERNAME, password="pw")


def test_a_user_deleted_another_way_is_erased_the_same_way(zelda, bob, django_capture_on_commit_callbacks):
    """The admin's user page deletes the user row: the same erasure runs in its transaction."""
    job = start_job(zelda, product_title=PRODUCT)
    store_files(job)
    account = UserProfile.objects.get(user=zelda)
    with django_capture_on_commit_callbacks(execute=True):
        get_user_model().objects.get(id=USER_ID).delete()

    account.refresh_from_db()
    assert account.user_id is None and account.erased_at is not None
    assert JobUsageRecord.objects.get(job_id=job.id).status == JobStatus.CANCELLED
    assert [kind for kind in LedgerEntry.objects.filter(job_id=job.id).order_by("id").values_list("kind", flat=True)
            ] == [EntryKind.HOLD, EntryKind.RELEASE]
    assert files_of(job) == []
    for text in (USERNAME, EMAIL, str(USER_ID), PRODUCT):
        assert rows_containing(text) == [], text


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_submit_that_meets_the_erasure_midway_is_a_401_and_leaves_nothing(zelda, token_client, monkeypatch):
    """PostgreSQL: the account is erased after the submit has inserted its job and before it holds the credits:
    the answer is the 401 of a credential that no longer exists, not a 500, and no job or hold is left."""
    import threading

    from django.db import connection

    from billing import sql
    from devstack.briefs import headphones_brief

    client, real_take_first_hold = token_client(zelda), sql.take_first_hold

    def erased_meanwhile(*, user_id, **hold):
        def erase():
            try:
                services.erase_account(user_id)
            finally:
                connection.close()

        thread = threading.Thread(target=erase)
        thread.start()
        thread.join(30)
        return real_take_first_hold(user_id=user_id, **hold)

    monkeypatch.setattr(sql, "take_first_hold", erased_meanwhile)  # the hold's first statement
    response = client.post("/api/video/generate/", headphones_brief("https://cdn.example.com/p.jpg"), format="json")
    assert response.status_code == 401, response.content
    assert not get_user_model().objects.filter(id=USER_ID).exists()
    assert not VideoJob.objects.exists()
    assert not LedgerEntry.objects.filter(kind=EntryKind.HOLD).exists()
