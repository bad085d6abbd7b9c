"""The ledger of paid calls: in memory and as JSON lines in the data dir."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path


class Ledger:
    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else None
        self._entries: list[dict] = []
        self._lock = threading.Lock()
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")

    def record(self, kind: str, id: str, fingerprint: str, **extra) -> dict:
        entry = {"kind": kind, "id": id, "fingerprint": fingerprint, "at": time.time(), **extra}
        with self._lock:
            self._entries.append(entry)
            if self.path:
                with self.path.open("a") as fh:
                    fh.write(json.dumps(entry) + "\n")
        return entry

    def entries(self) -> list[dict]:
        with self._lock:
            return [dict(e) for e in self._entries]

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            if self.path:
                self.path.write_text("")
