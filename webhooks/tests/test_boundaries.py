"""The pipeline and billing know nothing of webhooks: they only send their signals (the dependency goes one way)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        if "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
    return found


@pytest.mark.parametrize("package", ["video_generation", "billing"])
def test_the_package_never_imports_the_webhooks_app(package):
    assert not {m for m in imported_modules(package) if m == "webhooks" or m.startswith("webhooks.")}


def test_the_old_broker_countdown_webhook_is_gone():
    from video_generation import tasks
    from video_generation.pipeline import dispatch

    assert not hasattr(tasks, "deliver_webhook") and not hasattr(dispatch, "deliver_webhook")
    assert not (ROOT / "video_generation" / "pipeline" / "webhooks.py").exists()
