"""A small renderer for the subset of kustomize that deploy/k8s uses, so the test suite can check every overlay
offline without the kustomize binary.

Supported fields of a kustomization.yaml, applied in kustomize's order (resources, then patches, then images and
replicas); any other field is an error, so the manifests cannot quietly grow past what is checked:

- `resources`: YAML files (several documents each) or directories holding a kustomization.yaml.
- `patches`: `- path: file.yaml`, each document a strategic-merge patch found by its kind and metadata.name:
  maps merge key by key, lists of maps that all carry `name` (containers, env, ports) merge item by item on it,
  every other list or value is replaced.
- `images`: `name` with `newName`, `newTag` and/or `digest`, applied to every container image of that name.
- `replicas`: `name` and `count`, setting spec.replicas of the Deployment of that name.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "patches", "images", "replicas"}
POD_OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


class UnsupportedKustomization(ValueError):
    pass


def render(directory: Path) -> list[dict]:
    directory = Path(directory)
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(spec) - SUPPORTED
    if unsupported:
        raise UnsupportedKustomization(f"{directory}: fields the renderer does not apply: {sorted(unsupported)}")
    objects: list[dict] = []
    for entry in spec.get("resources", []):
        objects.extend(load_resource(directory / entry))
    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise UnsupportedKustomization(f"{directory}: only `patches: - path:` is supported, not {patch}")
        for document in load_documents(directory / patch["path"]):
            apply_patch(objects, document)
    for image in spec.get("images", []):
        set_image(objects, image)
    for replicas in spec.get("replicas", []):
        target(objects, "Deployment", replicas["name"])["spec"]["replicas"] = replicas["count"]
    return objects


def load_resource(path: Path) -> list[dict]:
    return render(path) if path.is_dir() else load_documents(path)


def load_documents(path: Path) -> list[dict]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def target(objects: list[dict], kind: str, name: str) -> dict:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise UnsupportedKustomization(f"no {kind} named {name!r} to change")


def apply_patch(objects: list[dict], patch: dict) -> None:
    obj = target(objects, patch["kind"], patch["metadata"]["name"])
    merged = merge(obj, patch)
    obj.clear()
    obj.update(merged)


def merge(base, patch):
    if isinstance(base, dict) and isinstance(patch, dict):
        result = dict(base)
        for key, value in patch.items():
            result[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return result
    if is_named_list(base) and is_named_list(patch):
        result = [copy.deepcopy(item) for item in base]
        for item in patch:
            match = next((i for i, existing in enumerate(result) if existing["name"] == item["name"]), None)
            if match is None:
                result.append(copy.deepcopy(item))
            else:
                result[match] = merge(result[match], item)
        return result
    return copy.deepcopy(patch)


def is_named_list(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, dict) and "name" in i for i in value)


def set_image(objects: list[dict], image: dict) -> None:
    for obj in objects:
        if obj["kind"] not in POD_OWNERS:
            continue
        pod = obj["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod.get("containers", []):
            name, tag, digest = split_image(container["image"])
            if name != image["name"]:
                continue
            name = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
            else:
                tag = str(image.get("newTag", tag or ""))
                container["image"] = f"{name}:{tag}" if tag else name


def split_image(reference: str) -> tuple[str, str | None, str | None]:
    name, _, digest = reference.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        return name, tag, digest or None
    return name, None, digest or None
