"""MLflow's rules for keys and values (metric/param/tag names, lengths, batch limits, view types), in its words."""

from __future__ import annotations

import posixpath
import re
from typing import Any

from mlineage.api.mlflow import mapping
from mlineage.api.mlflow.errors import MlflowError
from mlineage.api.mlflow.fields import invalid_value, missing

MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000

_NAME = re.compile(r"^[/\w.\- :]*$")
_BAD_CHARACTERS = ("Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), "
                   "colon(:) and slashes (/).")


def _invalid(message: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", message)


def _check_name(name: str, path: str) -> None:
    if not _NAME.match(name):
        raise _invalid(invalid_value(path, name, _BAD_CHARACTERS))
    normalized = posixpath.normpath(name)
    if normalized != name or normalized == "." or normalized.startswith("..") or normalized.startswith("/"):
        raise _invalid(invalid_value(
            path, name,
            "Names may be treated as files in certain cases, and must not resolve to other names when treated "
            f"as such. This name would resolve to {normalized!r}"))


def _check_length(what: str, limit: int, value: str) -> None:
    if len(value) > limit:
        raise _invalid(f"'{what}' exceeds the maximum length of {limit} characters")


def check_tag_key(key: Any, path: str = "key") -> str:
    if key is None:
        raise _invalid(f"Missing value for required parameter '{path}'.")
    if not isinstance(key, str):
        raise _invalid(invalid_value(path, key))
    _check_name(key, path)
    return key


def check_param(key: Any, value: Any, path: str = "") -> tuple[str, str]:
    key_path = f"{path}.key" if path else "key"
    if key is None or key == "":
        raise _invalid(invalid_value(key_path, "", "A key name must be provided."))
    if not isinstance(key, str):
        raise _invalid(invalid_value(key_path, key))
    _check_name(key, key_path)
    _check_length("Param key", MAX_ENTITY_KEY_LENGTH, key)
    text = "" if value is None else value
    if not isinstance(text, str):
        raise _invalid(invalid_value(f"{path}.value" if path else "value", value))
    # MLflow's server truncates a long value (MLFLOW_TRUNCATE_LONG_VALUES, on by default) rather than refuse it.
    return key, text[:MAX_PARAM_VALUE_LENGTH]


def check_tag(key: Any, value: Any, path: str = "") -> tuple[str, str]:
    key_path = f"{path}.key" if path else "key"
    value_path = f"{path}.value" if path else "value"
    checked = check_tag_key(key, key_path)
    _check_length(key_path, MAX_ENTITY_KEY_LENGTH, checked)
    text = "" if value is None else value
    if not isinstance(text, str):
        raise _invalid(invalid_value(value_path, value))
    return checked, text[:MAX_TAG_VALUE_LENGTH]  # truncated, as MLflow's server does


def check_metric(key: Any, value: float | None, timestamp: int | None, step: int | None, path: str = "") -> None:
    name_path = f"{path}.name" if path else "name"
    if key is None or key == "":
        raise _invalid(invalid_value(name_path, key, "Metric name cannot be None. A key name must be provided."))
    if not isinstance(key, str):
        raise _invalid(invalid_value(name_path, key))
    _check_name(key, name_path)
    if value is None:
        raise _invalid(f"Missing value for required parameter '{path + '.' if path else ''}value'.")
    if timestamp is None or timestamp < 0:
        raise _invalid(invalid_value(
            f"{path}.timestamp" if path else "timestamp", timestamp,
            f"metric '{key}' (value={value}). Timestamp must be a nonnegative long (64-bit integer) "))
    if step is None:
        raise _invalid(invalid_value(f"{path}.step" if path else "step", step,
                                     f"metric '{key}' (value={value}). Step must be a valid long (64-bit integer)."))
    _check_length("Metric name", MAX_ENTITY_KEY_LENGTH, key)


def check_batch_limits(metrics: int, params: int, tags: int) -> None:
    for name, limit, count in (("metrics", MAX_METRICS_PER_BATCH, metrics),
                               ("params", MAX_PARAMS_TAGS_PER_BATCH, params),
                               ("tags", MAX_PARAMS_TAGS_PER_BATCH, tags),
                               ("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, metrics + params + tags)):
        if count > limit:
            raise _invalid(f"A batch logging request can contain at most {limit} {name}. Got {count} {name}. "
                           f"Please split up {name} across multiple requests and try again.")


_VIEW_TYPES = {
    "ACTIVE_ONLY": (mapping.ACTIVE,), 1: (mapping.ACTIVE,),
    "DELETED_ONLY": (mapping.DELETED,), 2: (mapping.DELETED,),
    "ALL": (mapping.ACTIVE, mapping.DELETED), 3: (mapping.ACTIVE, mapping.DELETED),
}


def check_view_type(value: Any) -> tuple[str, ...]:
    """The lifecycle stages a ViewType (name or number; ACTIVE_ONLY when absent) selects."""
    if value is None or value == "":
        return (mapping.ACTIVE,)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    stages = _VIEW_TYPES.get(value) if not isinstance(value, bool) else None
    if stages is None:
        raise _invalid(invalid_value("view_type", value))
    return stages


__all__ = ["check_batch_limits", "check_metric", "check_param", "check_tag", "check_tag_key", "check_view_type",
           "missing"]
