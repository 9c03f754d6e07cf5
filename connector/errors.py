"""Exception hierarchy of the connector.

    ConnectorError                 root; ``retriable`` tells the task loop whether to retry
    ├── ConfigError                bad configuration, reported at start-up
    ├── WalError                   anything wrong with the WAL files
    │   ├── WalCorruptionError     a checksum, magic or length that breaks an invariant
    │   └── WalGapError            the requested version is no longer in the WAL
    ├── DecodeError                a message body that does not parse
    │   ├── UnknownSchemaError     a table block whose (suid, uid, sver) is not in the catalog
    │   └── UnsupportedFormatError a message type, flag or encoding version the decoder does not know
    └── SinkError                  Kafka refused or failed a produce, commit or checkpoint read
        └── FencedError            another instance took over this task's transactional.id

The task loop reads ``retriable`` and never inspects messages: a retriable error
leaves the checkpoint where it is and tries again later, anything else halts the
task at the version in the error.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConnectorError",
    "DecodeError",
    "FencedError",
    "SinkError",
    "UnknownSchemaError",
    "UnsupportedFormatError",
    "WalCorruptionError",
    "WalError",
    "WalGapError",
]


class ConnectorError(Exception):
    """Root of every error the connector raises on purpose."""

    retriable: bool = False


class ConfigError(ConnectorError):
    """The configuration is invalid; the message names the key, the value and what is allowed."""


class WalError(ConnectorError):
    """A problem with the WAL files of one vnode."""


class WalCorruptionError(WalError):
    """A WAL entry breaks an invariant (magic, checksum, length, version order).

    ``path``, ``offset`` and ``version`` locate the entry; ``version`` is the
    version expected at that position when the entry itself cannot be trusted.
    """

    def __init__(self, message: str, *, path: str, offset: int, version: int | None) -> None:
        super().__init__(message)
        self.path = path
        self.offset = offset
        self.version = version


class WalGapError(WalError):
    """The requested version is older than the first version the WAL still retains."""

    def __init__(self, message: str, *, requested: int, first_retained: int) -> None:
        super().__init__(message)
        self.requested = requested
        self.first_retained = first_retained


class DecodeError(ConnectorError):
    """A message body does not match the layout its message type promises."""


class UnknownSchemaError(DecodeError):
    """A table block refers to a schema version the catalog does not hold."""

    def __init__(self, message: str, *, suid: int, uid: int, sver: int) -> None:
        super().__init__(message)
        self.suid = suid
        self.uid = uid
        self.sver = sver


class UnsupportedFormatError(DecodeError):
    """A message type, flag or encoding version that this decoder does not understand."""


class SinkError(ConnectorError):
    """Kafka rejected or failed an operation of the sink."""

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


class FencedError(SinkError):
    """A newer instance with the same transactional.id fenced this producer."""
