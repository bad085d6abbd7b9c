"""Local work gets its own state (`running`, not `submitting`), and the plan names the B-roll's source step.

Rows in flight when this is deployed are brought along: claimed local steps move to `running`, and every planned
job's steps get the B-roll markers its plan would give them today.
"""

from django.db import migrations, models

LOCAL_KINDS = ("fetch_image", "join_broll", "compose")
USES_BROLL = ("compose", "heygen_upload")


def broll_key(steps: dict) -> str | None:
    if "join" in steps:
        return "join"
    chain_zero = [step for key, step in steps.items() if key.startswith("veo:c0:")]
    return max(chain_zero, key=lambda step: step.scene_index).key if chain_zero else None


def forwards(apps, schema_editor):
    JobStep = apps.get_model("video_generation", "JobStep")
    JobStep.objects.filter(kind__in=LOCAL_KINDS, state="submitting").update(state="running")
    job_ids = JobStep.objects.values_list("job_id", flat=True).distinct()
    for job_id in job_ids.iterator():
        steps = {step.key: step for step in JobStep.objects.filter(job_id=job_id)}
        key = broll_key(steps)
        if key is None:
            continue
        steps[key].params = {**steps[key].params, "yields_broll": True}
        steps[key].save(update_fields=["params"])
        for step in steps.values():
            if step.kind in USES_BROLL:
                step.params = {**step.params, "broll_key": key}
                step.save(update_fields=["params"])


def backwards(apps, schema_editor):
    JobStep = apps.get_model("video_generation", "JobStep")
    JobStep.objects.filter(state="running").update(state="submitting")


class Migration(migrations.Migration):

    dependencies = [
        ("video_generation", "0003_step_redrives"),
    ]

    operations = [
        migrations.AlterField(
            model_name="jobstep",
            name="state",
            field=models.CharField(choices=[("pending", "Pending"), ("running", "Running"), ("submitting", "Submitting"), ("submitted", "Submitted"), ("unknown", "Unknown"), ("succeeded", "Succeeded"), ("failed", "Failed"), ("cancelled", "Cancelled")], default="pending", max_length=16),
        ),
        migrations.RunPython(forwards, backwards),
    ]
