"""The brief's own example, used by the demo and the end-to-end tests."""

HEADPHONES_SCRIPT = (
    "Introducing our revolutionary wireless headphones. Forty hours of battery life keep the music going all "
    "week, and adaptive noise cancelling turns any commute into a quiet room. Soft memory foam cushions stay "
    "comfortable from the first song to the last. Premium sound, all day comfort. Order yours today."
)

HEADPHONES_SCENES = [
    {"visual_description": "Headphones on modern desk with soft lighting", "camera_movement": "slow 360 rotation",
     "mood": "professional and premium", "duration": 8},
    {"visual_description": "Close-up of controls and materials", "camera_movement": "smooth zoom in",
     "mood": "sophisticated", "duration": 8},
    {"visual_description": "Headphones being worn showing comfort", "camera_movement": "gentle pan",
     "mood": "comfortable", "duration": 8},
]


def headphones_brief(image_url: str, *, scenes: int = 3, aspect_ratio: str = "9:16",
                     avatar_id: str = "josh_lite3_20230714", voice_id: str = "d7bbcdd6964c47bdaae26decade4a933",
                     script: str = HEADPHONES_SCRIPT, avatar_position="bottom_right") -> dict:
    return {
        "product_id": "HP-PRO-2026",
        "product_title": "Premium Wireless Headphones",
        "scenes": [dict(HEADPHONES_SCENES[i % len(HEADPHONES_SCENES)]) for i in range(scenes)],
        "image_url": image_url,
        "avatar_id": avatar_id,
        "voice_id": voice_id,
        "avatar_script": script,
        "avatar_position": avatar_position,
        "aspect_ratio": aspect_ratio,
    }


# What the demo's scenes say on screen (drawn by the compositor over each scene's span of the B-roll).
DEMO_OVERLAYS = ("Premium Wireless Headphones", "40 h battery · noise cancelling", "All-day comfort — order today")


def demo_brief(image_url: str, *, scenes: int = 3, aspect_ratio: str = "9:16") -> dict:
    """The headphones brief with on-screen text on every scene: what `make demo` renders."""
    brief = headphones_brief(image_url, scenes=scenes, aspect_ratio=aspect_ratio)
    for n, scene in enumerate(brief["scenes"]):
        scene["text_overlay"] = DEMO_OVERLAYS[n % len(DEMO_OVERLAYS)]
    return brief
