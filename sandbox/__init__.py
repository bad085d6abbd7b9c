"""Loopback sandbox for the Veo (Vertex AI), HeyGen, GCS and Stripe wire protocols.

Django-free; product code never imports it. Start it with ``python -m sandbox serve`` or, from tests,
with :class:`sandbox.process.SandboxProcess`.
"""

__all__ = ["SandboxProcess"]


def __getattr__(name):
    if name == "SandboxProcess":
        from .process import SandboxProcess
        return SandboxProcess
    raise AttributeError(name)
