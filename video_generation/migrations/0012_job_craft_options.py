"""The video-craft options. A job made before them keeps what it was made with: continuous scenes, the last frame
held, no captions; a new job gets the new defaults."""

from django.db import migrations, models

import video_generation.models


class Migration(migrations.Migration):

    dependencies = [
        ('video_generation', '0011_job_poster_and_preview'),
    ]

    operations = [
        migrations.AddField(
            model_name='videojob',
            name='scene_transitions',
            field=models.CharField(choices=[('continuous', 'continuous: each scene extends the one before (one provider operation after another)'), ('cuts', 'cuts: every scene from the product image at once, joined with short transitions')], default='continuous', max_length=16),
        ),
        migrations.AddField(
            model_name='videojob',
            name='broll_fit',
            field=models.CharField(choices=[('extend', 'extend: further Veo extensions so the B-roll covers the narration'), ('loop', 'loop: the B-roll repeated with a crossfade'), ('hold', 'hold: the last frame held')], default='hold', help_text='How the B-roll covers a narration longer than it.', max_length=8),
        ),
        migrations.AlterField(
            model_name='videojob',
            name='broll_fit',
            field=models.CharField(choices=[('extend', 'extend: further Veo extensions so the B-roll covers the narration'), ('loop', 'loop: the B-roll repeated with a crossfade'), ('hold', 'hold: the last frame held')], default='extend', help_text='How the B-roll covers a narration longer than it.', max_length=8),
        ),
        migrations.AddField(
            model_name='videojob',
            name='captions',
            field=models.JSONField(blank=True, default=dict, help_text='{enabled, style, position} of the burned-in captions.'),
        ),
        migrations.RunPython(
            lambda apps, schema_editor: apps.get_model('video_generation', 'VideoJob').objects.update(
                captions={'enabled': False, 'style': 'bold', 'position': 'auto'}),
            migrations.RunPython.noop),
        migrations.AlterField(
            model_name='videojob',
            name='captions',
            field=models.JSONField(blank=True, default=video_generation.models.default_captions, help_text='{enabled, style, position} of the burned-in captions.'),
        ),
        migrations.AddField(
            model_name='videojob',
            name='captions_srt_uri',
            field=models.CharField(blank=True, default='', help_text='Storage URI of the styled captions as SubRip (.srt).', max_length=1000),
        ),
        migrations.AddField(
            model_name='videojob',
            name='captions_vtt_uri',
            field=models.CharField(blank=True, default='', help_text='Storage URI of the styled captions as WebVTT (.vtt).', max_length=1000),
        ),
    ]
