"""Reading an MLflow request's fields (JSON body or query string) with MLflow's checks and its error messages."""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from mlineage.api.mlflow.errors import MlflowError

_SEE_DOCS = " See the API docs for more information about request parameters."


def missing(name: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{name}'.{_SEE_DOCS}")


def invalid_value(path: str, value: Any, message: str | None = None) -> str:
    """MLflow's wording for a bad value: ``Invalid value <json> for parameter '<path>' supplied[: message]``."""
    try:
        shown = json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        shown = repr(value)
    if message:
        return f"Invalid value {shown} for parameter '{path}' supplied: {message}"
    return f"Invalid value {shown} for parameter '{path}' supplied."


def _wrong_type(name: str, value: Any) -> MlflowError:
    return MlflowError(
        "INVALID_PARAMETER_VALUE",
        invalid_value(name, value, f" Hint: Value was of type '{type(value).__name__}'.") + _SEE_DOCS,
    )


class Fields:
    """The fields of one request; each getter checks the type as MLflow's server does."""

    def __init__(self, data: dict[str, Any], repeated: dict[str, list[str]] | None = None) -> None:
        self._data = data
        self._repeated = repeated or {}

    def has(self, name: str) -> bool:
        return self._data.get(name) not in (None, "")

    def raw(self, name: str) -> Any:
        return self._data.get(name)

    def id_string(self, name: str) -> str:
        """A required id that MLflow writes as a string (an integer is taken too)."""
        value = self._data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self.required_string(name)

    def string(self, name: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self._data.get(name)
        if value is None or value == "":
            if required:
                raise missing(name)
            return default
        if not isinstance(value, str):
            raise _wrong_type(name, value)
        return value

    def required_string(self, name: str) -> str:
        value = self.string(name, required=True)
        assert value is not None
        return value

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self._data.get(name)
        if value is None or value == "":
            if required:
                raise missing(name)
            return None
        if isinstance(value, bool):
            raise _wrong_type(name, value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise _wrong_type(name, value)

    def number(self, name: str, *, required: bool = False) -> float | None:
        value = self._data.get(name)
        if value is None:
            if required:
                raise missing(name)
            return None
        return to_number(name, value)

    def strings(self, name: str) -> list[str]:
        value = self._repeated.get(name, self._data.get(name))
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise _wrong_type(name, value)
        return value

    def objects(self, name: str) -> list[dict[str, Any]]:
        value = self._data.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise _wrong_type(name, value)
        return value


def to_number(name: str, value: Any) -> float:
    """A double as protobuf's JSON writes one: a number, or "NaN", "Infinity", "-Infinity"."""
    if isinstance(value, bool):
        raise _wrong_type(name, value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
        if value in special:
            return special[value]
        try:
            return float(value)
        except ValueError:
            pass
    raise _wrong_type(name, value)


def number_json(value: float) -> float | str:
    """A double in protobuf's JSON: NaN and infinities as strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def page_token(offset: int) -> str:
    """MLflow's page token: base64 of ``{"offset": N}``."""
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def page_offset(token: str | None) -> int:
    """The offset a page token names (0 for none); INVALID_PARAMETER_VALUE for a token that is not one."""
    if not token:
        return 0
    try:
        decoded = json.loads(base64.b64decode(token.encode(), validate=False))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise MlflowError("INVALID_PARAMETER_VALUE", "Invalid page token, could not base64-decode") from None
    if not isinstance(decoded, dict) or "offset" not in decoded:
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid page token, parsed value={decoded}")
    offset = decoded["offset"]
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid page token, parsed value={decoded}")
    return offset


__all__ = ["Fields", "invalid_value", "missing", "number_json", "page_offset", "page_token", "to_number"]
