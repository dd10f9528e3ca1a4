"""A small Kustomize renderer for deploy/kustomize, for the manifest tests (not a test module).

No registry ships the kustomize binary, so the tests render the kustomizations
themselves, with the subset of Kustomize that deploy/ uses, done as Kustomize
does it: ``resources`` (files and directories), ``components``, ``patches``
(RFC 6902 JSON patches with a target, and strategic-merge patches, whose merge
keys here are the containers', volumes', mounts' and env's ``name``),
``namespace`` and ``images``. Anything else in a kustomization, a patch
directive (``$patch``), or a patch that matches nothing is an error, never
skipped: a manifest this renderer cannot render exactly fails the tests.
Where ``kubectl kustomize`` is installed, tests/deploy/test_manifests.py checks
that both renderings agree.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "resources", "components", "namespace", "images", "patches"}
MERGE_BY_NAME = {"containers", "initContainers", "volumes", "volumeMounts", "env", "imagePullSecrets"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass",
                  "StorageClass", "PersistentVolume"}


class RenderError(Exception):
    """A kustomization this renderer does not render exactly."""


def load_documents(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def key(resource: Resource) -> tuple[str, str, str]:
    """(kind, namespace, name): what identifies a rendered resource."""
    metadata = resource.get("metadata", {})
    return resource["kind"], metadata.get("namespace", ""), metadata["name"]


def render(directory: Path) -> list[Resource]:
    """The resources ``kustomize build directory`` prints, in the order the kustomization lists them."""
    return _build(directory, expected_kind="Kustomization")


def _build(directory: Path, *, expected_kind: str, inherited: list[Resource] | None = None) -> list[Resource]:
    kustomization_file = directory / "kustomization.yaml"
    if not kustomization_file.exists():
        raise RenderError(f"{directory} has no kustomization.yaml")
    kustomization = yaml.safe_load(kustomization_file.read_text())
    unknown = set(kustomization) - KUSTOMIZATION_FIELDS
    if unknown:
        raise RenderError(f"{kustomization_file}: fields this renderer does not handle: {sorted(unknown)}")
    if kustomization.get("kind", "Kustomization") != expected_kind:
        raise RenderError(f"{kustomization_file} is a {kustomization.get('kind')}, expected a {expected_kind}")
    resources = list(inherited or [])
    for entry in kustomization.get("resources", []):
        target = directory / entry
        resources += render(target) if target.is_dir() else load_documents(target)
    for entry in kustomization.get("components", []):
        resources = _build(directory / entry, expected_kind="Component", inherited=resources)
    for patch in kustomization.get("patches", []):
        _apply_patch(directory, patch, resources)
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        _set_image(image, resources)
    seen: set[tuple[str, str, str]] = set()
    for resource in resources:
        if key(resource) in seen:
            raise RenderError(f"{directory}: two resources are {key(resource)}")
        seen.add(key(resource))
    return resources


def _matches(resource: Resource, target: dict[str, str]) -> bool:
    api_version = resource["apiVersion"]
    group, _, version = api_version.rpartition("/")
    wanted = {"group": group, "version": version, "kind": resource["kind"],
              "name": resource["metadata"]["name"], "namespace": resource["metadata"].get("namespace", "")}
    unknown = set(target) - set(wanted)
    if unknown:
        raise RenderError(f"patch target fields this renderer does not handle: {sorted(unknown)}")
    return all(wanted[field] == value for field, value in target.items())


def _apply_patch(directory: Path, entry: dict[str, Any], resources: list[Resource]) -> None:
    if set(entry) - {"path", "target"} or "path" not in entry:
        raise RenderError(f"{directory}: a patch entry this renderer does not handle: {entry}")
    source = entry["path"]
    body = yaml.safe_load((directory / source).read_text())
    if isinstance(body, list):
        if "target" not in entry:
            raise RenderError(f"{source}: a JSON patch needs a target")
        target = entry["target"]
    else:
        target = entry.get("target") or {"kind": body["kind"], "name": body["metadata"]["name"]}
    matched = [index for index, resource in enumerate(resources) if _matches(resource, target)]
    if not matched:
        raise RenderError(f"{source}: the patch matches no resource")
    for index in matched:
        if isinstance(body, list):
            resources[index] = json_patch(resources[index], body, source)
        else:
            merged = strategic_merge(resources[index], body, source)
            merged["metadata"]["name"] = resources[index]["metadata"]["name"]
            resources[index] = merged


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise RenderError(f"JSON pointer {path!r} does not start with /")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def json_patch(document: Resource, operations: list[dict[str, Any]], source: str) -> Resource:
    """``document`` with RFC 6902 add/replace/remove applied in order (a new object)."""
    result = copy.deepcopy(document)
    for operation in operations:
        op, parts = operation.get("op"), _pointer(operation["path"])
        if op not in ("add", "replace", "remove"):
            raise RenderError(f"{source}: JSON patch op {op!r} is not handled")
        parent: Any = result
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        value = copy.deepcopy(operation.get("value"))
        if isinstance(parent, list):
            if op == "add":
                parent.insert(len(parent) if last == "-" else int(last), value)
                continue
            position = int(last)
            if not 0 <= position < len(parent):
                raise RenderError(f"{source}: {operation['path']} is past the end of the list")
            if op == "replace":
                parent[position] = value
            else:
                del parent[position]
        else:
            if op in ("replace", "remove") and last not in parent:
                raise RenderError(f"{source}: {operation['path']} does not exist (RFC 6902 {op} needs it)")
            if op == "remove":
                del parent[last]
            else:
                parent[last] = value
    return result


def strategic_merge(base: Any, patch: Any, source: str, field: str = "") -> Any:
    """Kubernetes' strategic merge of ``patch`` into ``base`` for the list kinds deploy/ patches."""
    if isinstance(patch, dict):
        if any(name.startswith("$") for name in patch):
            raise RenderError(f"{source}: patch directives ({sorted(patch)}) are not handled")
        if not isinstance(base, dict):
            return copy.deepcopy(patch)
        merged = copy.deepcopy(base)
        for name, value in patch.items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = strategic_merge(base.get(name), value, source, name)
        return merged
    if isinstance(patch, list) and field in MERGE_BY_NAME and isinstance(base, list):
        # As Kubernetes orders a merged list: the patch's items first, in its order (merged with the
        # original item of the same name, if any), then the original items the patch does not name.
        originals = {item.get("name"): item for item in base}
        named = {item.get("name") for item in patch}
        merged_list = [strategic_merge(originals.get(item.get("name")), item, source) for item in patch]
        return merged_list + [copy.deepcopy(item) for item in base if item.get("name") not in named]
    if isinstance(patch, list) and field == "ports":
        raise RenderError(f"{source}: merging ports lists (by containerPort/port) is not handled")
    return copy.deepcopy(patch)


def _set_image(image: dict[str, str], resources: list[Resource]) -> None:
    if set(image) - {"name", "newName", "newTag", "digest"}:
        raise RenderError(f"an images entry this renderer does not handle: {image}")
    for resource in resources:
        pod = resource.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            name, tag = _split_image(container["image"])
            if name != image["name"]:
                continue
            new = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{new}@{image['digest']}"
            else:
                tag = image.get("newTag", tag)
                container["image"] = f"{new}:{tag}" if tag else new


def _split_image(reference: str) -> tuple[str, str | None]:
    name, at, _ = reference.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        base, _, tag = name.rpartition(":")
        return base, tag
    return name, None
