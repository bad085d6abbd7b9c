"""Fault injection: marker words in a prompt/script (``[[fault:NAME]]``) and global faults from the CLI/env."""

from __future__ import annotations

import hashlib
import json
import re
import threading

MARKER_RE = re.compile(r"\[\[\s*fault\s*:\s*([a-z0-9_]+)\s*\]\]", re.IGNORECASE)

# Faults that fire on the first N submits of a given request (keyed by its fingerprint without markers).
SUBMIT_FAULTS = ("429", "500", "hang", "lost_response")
# Faults that shape the outcome of an accepted job.
OUTCOME_FAULTS = ("safety", "op_failed", "render_failed", "poll_500")
KNOWN = SUBMIT_FAULTS + OUTCOME_FAULTS


def markers_in(text) -> set[str]:
    if not isinstance(text, str):
        return set()
    return {m.lower() for m in MARKER_RE.findall(text)}


def strip_markers(text: str) -> str:
    return re.sub(r"\s{2,}", " ", MARKER_RE.sub("", text or "")).strip()


def _strip_deep(value):
    if isinstance(value, str):
        return MARKER_RE.sub("", value)
    if isinstance(value, list):
        return [_strip_deep(v) for v in value]
    if isinstance(value, dict):
        return {k: _strip_deep(v) for k, v in value.items()}
    return value


def markers_deep(value) -> set[str]:
    """Every marker in any string of a JSON value."""
    found: set[str] = set()
    if isinstance(value, str):
        found |= markers_in(value)
    elif isinstance(value, list):
        for v in value:
            found |= markers_deep(v)
    elif isinstance(value, dict):
        for v in value.values():
            found |= markers_deep(v)
    return found


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(value) -> str:
    """sha256 of the canonical JSON of a request body."""
    return hashlib.sha256(canonical(value)).hexdigest()


def fingerprint_without_markers(value) -> str:
    return fingerprint(_strip_deep(value))


def parse_global(spec: str | None) -> dict[str, set[str]]:
    """'429,veo:safety,heygen:render_failed' -> {'*': {'429'}, 'veo': {'safety'}, 'heygen': {'render_failed'}}."""
    out: dict[str, set[str]] = {}
    for item in (spec or "").replace(";", ",").split(","):
        item = item.strip().lower()
        if not item:
            continue
        scope, _, name = item.rpartition(":")
        scope = scope or "*"
        if name not in KNOWN:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(KNOWN)}")
        out.setdefault(scope, set()).add(name)
    return out


class FaultBook:
    """Remembers which transient faults already fired, so the N first attempts fail and later ones pass."""

    def __init__(self, global_faults: dict[str, set[str]] | None = None, transient_count: int = 1,
                 hang_seconds: float = 30.0):
        self.global_faults = global_faults or {}
        self.transient_count = max(0, int(transient_count))
        self.hang_seconds = hang_seconds
        self._fired: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def active(self, provider: str, body) -> set[str]:
        return markers_deep(body) | self.global_faults.get("*", set()) | self.global_faults.get(provider, set())

    def fire_once(self, fault: str, key: str) -> bool:
        """True for the first `transient_count` calls with this (fault, key), then False."""
        with self._lock:
            n = self._fired.get((fault, key), 0)
            if n >= self.transient_count:
                return False
            self._fired[(fault, key)] = n + 1
            return True

    def submit_fault(self, provider: str, kind: str, body) -> str | None:
        """The submit-time fault to apply to this request now, if any (each fires once per fingerprint)."""
        active = self.active(provider, body)
        key = kind + ":" + fingerprint_without_markers(without_output_location(body))
        for fault in SUBMIT_FAULTS:
            if fault in active and self.fire_once(fault, key):
                return fault
        return None

    def reset(self) -> None:
        with self._lock:
            self._fired.clear()


def without_output_location(body):
    """The request minus where its output goes: a client's retry writes to a new storageUri but is the same
    request, so a transient fault must not fire on it again."""
    if isinstance(body, dict) and isinstance(body.get("parameters"), dict) and "storageUri" in body["parameters"]:
        return {**body, "parameters": {k: v for k, v in body["parameters"].items() if k != "storageUri"}}
    return body
