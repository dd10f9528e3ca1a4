"""Property values as the reports show them: plain Python values, hashable, and the numbers among them."""

from __future__ import annotations

import json
import math
from typing import Any

from google.protobuf import json_format

from mlineage.proto import metadata_store_pb2 as pb


def plain(value: pb.Value) -> Any:
    """A property value as a plain, hashable Python value (a struct as compact, sorted JSON text)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "struct_value":
        data = json_format.MessageToDict(value.struct_value)
        if set(data) == {"value"} and isinstance(data["value"], list):
            data = data["value"]
        return json.dumps(data, sort_keys=True, separators=(",", ":"))
    if which == "proto_value":
        return f"<{value.proto_value.type_url.rpartition('/')[2] or 'proto'}>"
    return getattr(value, which)


def number(value: Any) -> float | None:
    """``value`` as a float when it is a number (or the text of one: NaN is stored as ``'nan'``); else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def jsonable(value: Any) -> Any:
    """``value`` for JSON: NaN as null, infinities as the strings ``Infinity``/``-Infinity``, numpy scalars unboxed."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    if value is not None and not isinstance(value, (str, int, float, bool)):
        try:
            import pandas as pd

            if value is pd.NaT or (not isinstance(value, (list, dict)) and pd.isna(value)):
                return None
            if isinstance(value, pd.Timestamp):
                return value.isoformat()
        except (TypeError, ValueError):
            pass
        return str(value)
    return value


def missing(value: Any) -> bool:
    """Whether a frame cell holds no value (None, NaN, NaT)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, (list, dict, str)) else False
    except (TypeError, ValueError):
        return False


__all__ = ["jsonable", "missing", "number", "plain"]
