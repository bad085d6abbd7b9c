from decimal import Decimal

import pytest

from devstack.briefs import HEADPHONES_SCRIPT, headphones_brief
from video_generation.models import VideoJob
from video_generation.pipeline import pricing


def brief(**overrides) -> dict:
    return {**headphones_brief("https://cdn.example.com/p.jpg"), **overrides}


@pytest.mark.parametrize(("seconds", "credits"), [(0.5, 1), (8, 1), (8.0004, 1), (8.1, 2), (22, 3), (24, 3),
                                                  (43.5, 6)])
def test_a_credit_is_each_started_eight_seconds(seconds, credits):
    assert pricing.credits_for(seconds) == credits


def test_a_video_is_never_charged_more_than_its_quote():
    assert pricing.credits_charged(40.0, 3) == 3
    assert pricing.credits_charged(15.0, 3) == 2
    assert pricing.credits_charged(15.0, None) == 2  # a job from before quotes


def test_the_narration_is_the_scripts_words_at_the_speaking_rate(settings):
    settings.NARRATION_WORDS_PER_MINUTE = 150
    assert pricing.narration_seconds("one two three four five") == 2.0
    assert pricing.narration_seconds("it's a well-known fact — 40 hours!") == 2.4  # 6 words
    settings.NARRATION_WORDS_PER_MINUTE = 120
    assert pricing.narration_seconds(" ".join(["word"] * 120)) == 60.0


def test_the_headphones_brief_costs_three_credits():
    quote = pricing.quote(brief())
    assert (quote.credits, quote.broll_seconds, quote.duration_seconds) == (3, 22.0, 22.0)
    assert quote.narration_seconds == pricing.narration_seconds(HEADPHONES_SCRIPT)
    assert quote.scene_plan == [{"scenes": [0, 1, 2], "seconds": 22, "clips": [
        {"scene": 0, "operation": "generate", "seconds": 8},
        {"scene": 1, "operation": "extend", "seconds": 7},
        {"scene": 2, "operation": "extend", "seconds": 7}]}]


def test_a_narration_longer_than_the_broll_sets_the_length():
    quote = pricing.quote(brief(avatar_script=" ".join(["word"] * 100)))  # 40 s at 150 words a minute
    assert (quote.duration_seconds, quote.credits) == (40.0, 5)


@pytest.mark.parametrize(("quality", "audio", "veo_per_second"), [
    ("standard", False, "0.20"), ("standard", True, "0.40"), ("fast", False, "0.10"), ("fast", True, "0.15")])
def test_the_provider_cost_follows_the_price_table(quality, audio, veo_per_second):
    quote = pricing.quote(brief(quality=quality, broll_audio=audio))
    veo = Decimal(veo_per_second) * 22
    heygen = (Decimal("4.00") * Decimal(str(quote.narration_seconds)) / 60).quantize(Decimal("0.0001"))
    assert quote.estimated_cost_usd == veo + heygen
    assert quote.model == {"standard": "veo-3.1-generate-001", "fast": "veo-3.1-fast-generate-001"}[quality]


def test_prices_come_from_settings(settings):
    settings.PROVIDER_PRICES = {"veo_per_second": {"m": {"audio": "1.00", "silent": "0.50"}},
                                "heygen_per_minute": "6.00"}
    assert pricing.veo_cost(model_id="m", audio=False, seconds=7) == Decimal("3.5")
    assert pricing.heygen_cost(30) == Decimal("3.00")
    with pytest.raises(ValueError, match="no price"):
        pricing.veo_cost(model_id="unpriced", audio=True, seconds=1)


def test_chains_over_the_extension_limit_are_planned_and_joined():
    quote = pricing.quote(brief(scenes=[brief()["scenes"][0]] * 7, avatar_script="Short."))
    assert [chain["scenes"] for chain in quote.scene_plan] == [[0, 1, 2, 3, 4], [5, 6]]
    assert quote.broll_seconds == 36 + 15 - 0.5  # the chains less one crossfade
    assert quote.credits == 7


@pytest.mark.django_db
def test_a_saved_job_is_quoted_from_its_own_fields(user):
    data = brief(quality="fast", broll_audio=True)
    job = VideoJob.objects.create(user=user, product_title="t", scenes_data=data["scenes"],
                                  avatar_script=data["avatar_script"], avatar_id="a", voice_id="v",
                                  image_url=data["image_url"], quality="fast", broll_audio=True)
    assert pricing.job_quote(job) == pricing.quote(data, heygen_mode=job.heygen_mode)
