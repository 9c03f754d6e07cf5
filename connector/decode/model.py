"""Value objects produced by the decoders and consumed by the tasks and the sink.

The decoders turn WAL message bodies into these types; nothing here depends
on bytes on disk or on Kafka.  Cell values use plain Python types:

    TDengine type                         Python value
    BOOL                                  bool
    TINYINT … BIGINT, UTINYINT … UBIGINT  int (UBIGINT up to 2**64 - 1)
    TIMESTAMP                             int, in the database precision
    FLOAT, DOUBLE                         float (FLOAT widened exactly from float32)
    VARCHAR / BINARY                      bytes, exactly as stored (not always UTF-8)
    NCHAR                                 str (decoded from UCS-4LE)
    VARBINARY, GEOMETRY                   bytes (GEOMETRY is little-endian WKB)
    DECIMAL64, DECIMAL                    DecimalValue (unscaled integer + precision + scale)
    NULL                                  None
    NONE (column not bound in that row)   the NONE singleton
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "NONE",
    "Column",
    "CreateTableRequest",
    "DecimalValue",
    "DeleteMessage",
    "DroppedTable",
    "DropTableMessage",
    "MessageHead",
    "NoneType",
    "OtherMessage",
    "SchemaMessage",
    "SubmitMessage",
    "TableBlock",
    "TableSchema",
    "TdType",
]


class TdType(enum.IntEnum):
    """TDengine data type ids (``TSDB_DATA_TYPE_*`` in include/client/taos.h)."""

    NULL = 0
    BOOL = 1
    TINYINT = 2
    SMALLINT = 3
    INT = 4
    BIGINT = 5
    FLOAT = 6
    DOUBLE = 7
    VARCHAR = 8
    TIMESTAMP = 9
    NCHAR = 10
    UTINYINT = 11
    USMALLINT = 12
    UINT = 13
    UBIGINT = 14
    JSON = 15
    VARBINARY = 16
    DECIMAL = 17
    BLOB = 18
    MEDIUMBLOB = 19
    GEOMETRY = 20
    DECIMAL64 = 21


class NoneType:
    """Type of ``NONE``: a column that the write did not bind, distinct from NULL."""

    _instance: NoneType | None = None

    def __new__(cls) -> NoneType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NONE"

    def __reduce__(self) -> str:
        return "NONE"


NONE: Final = NoneType()


@dataclass(frozen=True, slots=True)
class DecimalValue:
    """An exact DECIMAL / DECIMAL64 cell: ``unscaled * 10**-scale``."""

    unscaled: int
    precision: int
    scale: int


@dataclass(frozen=True, slots=True)
class Column:
    """One column (or tag) of a table schema, as TDengine's SSchema describes it.

    ``bytes`` includes the 2-byte length header for variable-length types, as
    TDengine stores it (VARCHAR(16) has bytes 18).  ``precision`` and ``scale``
    are set for DECIMAL types only.  ``name`` is None when the column is known
    only from a column-format block, which carries ids and types but no names.
    """

    col_id: int
    type: TdType
    bytes: int
    name: str | None = None
    flags: int = 0
    precision: int | None = None
    scale: int | None = None

    @property
    def primary_key(self) -> bool:
        """True for the timestamp column and for composite primary-key columns."""
        return self.col_id == 1 or bool(self.flags & 0x04)


@dataclass(frozen=True, slots=True)
class TableSchema:
    """The column list of a super table or normal table at one schema version.

    ``suid`` is the super-table uid, or 0 for a normal table, whose columns are
    keyed by ``uid`` instead.  ``columns[0]`` is always the TIMESTAMP column
    with col_id 1.
    """

    suid: int
    uid: int
    sver: int
    columns: tuple[Column, ...]
    tags: tuple[Column, ...] = ()
    name: str | None = None
    tag_version: int | None = None


@dataclass(frozen=True, slots=True)
class MessageHead:
    """The 8-byte ``SMsgHead`` in front of most vnode messages (host byte order in the WAL)."""

    cont_len: int
    vg_id: int


@dataclass(frozen=True, slots=True)
class CreateTableRequest:
    """One ``SVCreateTbReq``: a child or normal table created by CREATE_TABLE or auto-create.

    ``tags`` maps tag name to value; a tag stored as NULL is absent from the
    STag and maps to None.  ``schema`` is set for normal tables only.
    ``fields`` keeps the other decoded fields under TDengine's names
    (``commentLen``, ``sqlLen``, ``colCmpr``, ``extSchemasTypeMod``, and
    ``tagTypes``: tag name → TdType).
    """

    flags: int
    name: str
    uid: int
    btime: int
    ttl: int
    table_type: int
    comment: str | None
    super_table_name: str | None = None
    suid: int = 0
    tag_num: int = 0
    tags: dict[str, object] = field(default_factory=dict)
    tag_names: tuple[str, ...] = ()
    schema: TableSchema | None = None
    sql: bytes | None = None
    fields: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TableBlock:
    """One ``SSubmitTbData``: the rows one SUBMIT wrote into one table.

    ``columns`` are the columns the rows are aligned with, in schema order.
    Each row is a tuple with one value per column (see the module docstring
    for the value types); a column the write did not bind is NONE.
    ``row_format`` is True for SRow blocks and False for SColData blocks.
    ``row_meta`` keeps per-row layout facts (SRow flag and length) for
    diagnostics; it is empty for column-format blocks.
    """

    flags: int
    suid: int
    uid: int
    sver: int
    row_format: bool
    columns: tuple[Column, ...]
    rows: tuple[tuple[object, ...], ...]
    ctime_ms: int | None = None
    create_request: CreateTableRequest | None = None
    table_name: str | None = None
    super_table_name: str | None = None
    row_meta: tuple[tuple[int, int], ...] = ()
    col_meta: tuple[dict[str, int], ...] = ()

    @property
    def encoding_version(self) -> int:
        """``SUBMIT_REQUEST_VERSION`` from bits 8-15 of the flags (0 before TDengine 3.3.0)."""
        return (self.flags >> 8) & 0xFF


@dataclass(frozen=True, slots=True)
class SubmitMessage:
    """A decoded SUBMIT (msgType 513) body."""

    head: MessageHead
    req_version: int
    blocks: tuple[TableBlock, ...]


@dataclass(frozen=True, slots=True)
class DeleteMessage:
    """A decoded DELETE (``SDeleteRes``) body: one inclusive time range on each listed uid."""

    head: MessageHead
    suid: int
    uids: tuple[int, ...]
    skey: int
    ekey: int
    affected_rows: int
    table_fname: str
    ts_col_name: str
    ctime_ms: int | None = None
    source: int | None = None
    table_names: tuple[str | None, ...] = ()
    super_table_name: str | None = None


@dataclass(frozen=True, slots=True)
class SchemaMessage:
    """A decoded CREATE_STB / ALTER_STB / CREATE_TABLE / ALTER_TABLE body.

    ``schemas`` lists the table schemas the entry defines and ``tables`` the
    tables it creates; ``fields`` keeps every decoded field for ``inspect``.
    """

    head: MessageHead
    kind: str
    schemas: tuple[TableSchema, ...] = ()
    tables: tuple[CreateTableRequest, ...] = ()
    fields: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DroppedTable:
    """One table of a DROP_TABLE batch."""

    name: str
    suid: int
    uid: int
    ig_not_exists: int
    is_virtual: int | None = None


@dataclass(frozen=True, slots=True)
class DropTableMessage:
    """A decoded DROP_TABLE (519) body."""

    head: MessageHead
    tables: tuple[DroppedTable, ...]


@dataclass(frozen=True, slots=True)
class OtherMessage:
    """A message the connector does not publish (SYNC_NOOP, COMMIT, TRIM, …): only its head, if any."""

    head: MessageHead | None
    kind: str
