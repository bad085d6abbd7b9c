"""`.env.example` documents every setting the code reads from the environment."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
READ = re.compile(r"""\benv(?:\.(?:bool|int|float|list|db|str|path))?\(\s*["']([A-Z][A-Z0-9_]+)["']""")
DOCUMENTED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]+)=", re.MULTILINE)


def test_every_setting_read_from_the_environment_is_in_env_example():
    read = set(READ.findall((REPO / "video_saas" / "settings.py").read_text()))
    documented = set(DOCUMENTED.findall((REPO / ".env.example").read_text()))
    assert read, "no settings found: the pattern is out of date"
    assert sorted(read - documented) == []
