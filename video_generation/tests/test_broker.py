"""The filesystem broker used by local runs never exposes a half-written message."""

import os

from kombu import Connection

import video_saas.celery  # noqa: F401  (registers the transport alias)
from video_saas import broker


def options(folder):
    return {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(folder / "control")}


def test_filesystem_urls_use_the_atomic_transport(tmp_path):
    with Connection("filesystem://", transport_options=options(tmp_path)) as connection:
        assert isinstance(connection.default_channel, broker.Channel)


def test_a_message_is_written_under_a_hidden_name_then_renamed(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.basename(src), os.listdir(tmp_path)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    with Connection("filesystem://", transport_options=options(tmp_path)) as connection:
        queue = connection.SimpleQueue("jobs")
        queue.put({"job": 1})
        (source, listing), = seen
        assert source.startswith(".partial-") and not any(n.endswith(".msg") for n in listing)  # not visible yet
        assert queue.get(timeout=2).payload == {"job": 1}
        queue.close()
