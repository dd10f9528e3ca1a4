"""Client certificate subjects mapped to a namespace and role (``mlineage serve --tls-identities FILE``).

For callers that can send no header (the unmodified ml-metadata client, TFX):
under mutual TLS the server has verified the client's certificate against its CA,
and the certificate's common name or one of its subject alternative names (DNS,
URI, email, IP) names the identity. The file is JSON::

    {"tfx-team-a": {"namespace": "team-a", "role": "writer"},
     "spiffe://cluster/ns/ml/sa/reader": {"namespace": "team-a", "role": "reader"}}

A certificate whose CN and SANs are all absent from the file is refused
(UNAUTHENTICATED): a valid certificate is not by itself a permission.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from mlineage.auth.identity import Identity, Role
from mlineage.auth.tokens import check_namespace


class TLSIdentities:
    """Subject (CN or SAN) -> :class:`Identity`."""

    def __init__(self, mapping: dict[str, Identity]) -> None:
        self._mapping = mapping

    def __len__(self) -> int:
        return len(self._mapping)

    @classmethod
    def load(cls, path: str | Path) -> TLSIdentities:
        """Read the mapping file; ValueError saying what is wrong with it (OSError if unreadable)."""
        text = Path(path).read_text()
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(raw, dict) or not raw:
            raise ValueError(f"{path}: expected an object of subject -> {{namespace, role}}")
        mapping: dict[str, Identity] = {}
        for subject, entry in raw.items():
            if not isinstance(entry, dict) or set(entry) - {"namespace", "role"} or "role" not in entry:
                raise ValueError(f"{path}: {subject!r} needs {{\"namespace\": NS, \"role\": reader|writer|admin}}")
            try:
                namespace = check_namespace(str(entry.get("namespace", "default")))
                role = Role.parse(str(entry["role"]))
            except ValueError as exc:
                raise ValueError(f"{path}: {subject!r}: {exc}") from None
            mapping[subject] = Identity(f"cert:{subject}", namespace, role)
        return cls(mapping)

    def identify(self, names: Iterable[str]) -> Identity | None:
        """The identity of the first of a certificate's names (CN first, then SANs) in the mapping."""
        for name in names:
            found = self._mapping.get(name)
            if found is not None:
                return found
        return None


def certificate_names(auth_context: dict[str, list[bytes]]) -> list[str]:
    """A verified peer's names from gRPC's auth context: the common name, then the SANs."""
    names: list[str] = []
    for key in ("x509_common_name", "x509_subject_alternative_name"):
        for value in auth_context.get(key, ()):
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            if text not in names:
                names.append(text)
    return names
