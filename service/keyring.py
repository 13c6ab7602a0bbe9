"""Integrations' webhook signing secrets, kept decrypted in each process between requests.

Looking an integration up and decrypting its secrets on every webhook costs more than storing
the delivery, so each process keeps what it last read. A kept entry is only ever a guess: the
statement that stores a delivery names the stored secrets it was verified with and stores
nothing when they changed (rotated, retired, integration deleted), and every refusal is decided
again on secrets read from the database (`service.inbox.receive`). A process that missed a
change therefore pays one more lookup, never gives a wrong answer, and nothing here relies on
there being a single process.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.crypto import SecretBox
from service.ingest_sql import IngestStatements

# Entries are only made for integrations that exist, so this bounds memory, not correctness.
MAX_KEPT = 10_000


@dataclass(frozen=True)
class SigningKeys:
    """One integration's signing secrets, and the stored (sealed) text they came from."""

    integration_id: int
    sealed: str
    secrets: tuple[str, ...]


class Keyring:
    """Signing secrets by (platform, webhook key), as this process last read them."""

    def __init__(self, box: SecretBox, max_kept: int = MAX_KEPT) -> None:
        self._box = box
        self._max_kept = max_kept
        self._kept: dict[tuple[str, str], SigningKeys] = {}

    def kept(self, platform: str, key: str) -> SigningKeys | None:
        """The secrets read by an earlier request, if any; they may be out of date."""
        return self._kept.get((platform, key))

    def load(self, statements: IngestStatements, platform: str, key: str) -> SigningKeys | None:
        """Read and decrypt the integration's secrets now, and keep them for later requests."""
        row = statements.find_integration(platform, key)
        if row is None:
            self._kept.pop((platform, key), None)
            return None
        integration_id, sealed = row
        secrets = tuple(self._box.open(sealed, []))
        if len(self._kept) >= self._max_kept:
            self._kept.clear()
        keys = SigningKeys(integration_id, sealed, secrets)
        self._kept[(platform, key)] = keys
        return keys
