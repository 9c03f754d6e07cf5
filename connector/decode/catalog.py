"""Schema catalog: the table schemas and table names the decoders need.

Row-format SUBMIT blocks can only be decoded with the column list of exactly
the schema version (``sver``) they were written with.  The catalog keeps
every version it has seen:

    schemas      (suid, sver) for super tables, (uid, sver) for normal tables → TableSchema
    tables       child/normal table uid → TableEntry (name, suid, tags)
    super tables suid → name
    alters       (normal table uid, ALTER_TABLE request key) → the sver it produced

It is filled from CREATE_STB / ALTER_STB / CREATE_TABLE / ALTER_TABLE / DROP_TABLE entries
of the WAL (see ``decode_message``) and from the ``table_schemas`` list of the
configuration (see ``catalog_config``), and it can be saved as a JSON-able
dict with ``to_dict`` / ``from_dict``.

With ``record_changes`` on, every update is also kept as a CatalogChange:
one keyed JSON document per schema version, table or super table, with None
for a dropped table.  Replaying the changes in order with ``apply_change``
rebuilds the same catalog, which is how a task persists its catalog in a
compacted Kafka topic, one record per key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from connector.decode._catalog_json import schema_from_dict, schema_to_dict, value_from_json, value_to_json
from connector.decode.model import TableSchema
from connector.errors import DecodeError, UnknownSchemaError

__all__ = ["CatalogChange", "SchemaCatalog", "TableEntry"]

_FORMAT_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class CatalogChange:
    """One catalog update: ``key`` names the schema version, table or super table it sets.

    Keys are ``schema/<suid or uid>/<sver>``, ``table/<uid>``,
    ``super-table/<suid>`` and ``alter/<uid>/<request key>``; ``value`` is
    None when a table was dropped.
    """

    key: str
    value: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class TableEntry:
    """A child or normal table: its name, its super table (0 for a normal table) and its tags."""

    uid: int
    name: str
    suid: int = 0
    tags: Mapping[str, object] = field(default_factory=dict)


class SchemaCatalog:
    """Table schemas by (suid or uid, sver), and table names by uid and suid."""

    def __init__(self) -> None:
        self._schemas: dict[tuple[int, int], TableSchema] = {}
        self._tables: dict[int, TableEntry] = {}
        self._super_tables: dict[int, str] = {}
        self._uids_by_name: dict[str, int] = {}
        self._alters: dict[tuple[int, str], int] = {}
        self.record_changes = False
        self._changes: list[CatalogChange] = []

    # -- change journal ------------------------------------------------------

    def drain_changes(self) -> list[CatalogChange]:
        """Return the changes recorded since the last call and forget them."""
        changes, self._changes = self._changes, []
        return changes

    def _record(self, key: str, value: dict[str, Any] | None) -> None:
        if self.record_changes:
            self._changes.append(CatalogChange(key, value))

    def apply_change(self, change: CatalogChange) -> None:
        """Apply one change as recorded by another catalog (without recording it again)."""
        kind, _, rest = change.key.partition("/")
        if kind == "schema" and change.value is not None:
            self.add_schema(schema_from_dict(change.value))
        elif kind == "table":
            uid = int(rest)
            if change.value is None:
                self.drop_table(uid)
            else:
                tags = {name: value_from_json(v) for name, v in change.value.get("tags", {}).items()}
                self.add_table(uid, str(change.value["name"]), suid=int(change.value.get("suid", 0)),
                               tags=tags)
        elif kind == "super-table" and change.value is not None:
            self.add_super_table(int(rest), str(change.value["name"]))
        elif kind == "alter" and change.value is not None:
            uid, _, key = rest.partition("/")
            self.record_alter(int(uid), key, int(change.value["sver"]))
        else:
            raise ValueError(f"unknown schema catalog change key {change.key!r}")

    # -- updates -------------------------------------------------------------

    def add_schema(self, schema: TableSchema) -> None:
        """Store one schema version; a later schema with the same key replaces it.

        A super-table schema (suid != 0) is keyed by (suid, sver) and also
        records the super table's name; a normal-table schema by (uid, sver).
        """
        if not schema.columns:
            raise DecodeError(f"schema of {schema.name!r} sver {schema.sver} has no columns")
        owner = schema.suid if schema.suid else schema.uid
        if self._schemas.get((owner, schema.sver)) != schema:
            self._schemas[(owner, schema.sver)] = schema
            self._record(f"schema/{owner}/{schema.sver}", schema_to_dict(schema))
        if schema.suid and schema.name:
            self.add_super_table(schema.suid, schema.name)

    def add_table(self, uid: int, name: str, *, suid: int = 0, tags: Mapping[str, object] | None = None) -> None:
        """Record a child table (``suid`` set) or a normal table (``suid`` 0)."""
        entry = TableEntry(uid=uid, name=name, suid=suid, tags=dict(tags or {}))
        if self._tables.get(uid) != entry:
            previous = self._tables.get(uid)
            if previous is not None and self._uids_by_name.get(previous.name) == uid:
                del self._uids_by_name[previous.name]
            self._tables[uid] = entry
            self._uids_by_name[name] = uid
            self._record(f"table/{uid}", {
                "name": name,
                "suid": suid,
                "tags": {tag: value_to_json(value) for tag, value in entry.tags.items()},
            })

    def drop_table(self, uid: int) -> None:
        """Forget a table's name and tags; its schemas stay, so older entries still decode."""
        entry = self._tables.pop(uid, None)
        if entry is not None:
            if self._uids_by_name.get(entry.name) == uid:
                del self._uids_by_name[entry.name]
            self._record(f"table/{uid}", None)

    def add_super_table(self, suid: int, name: str) -> None:
        """Record a super table's name without a schema."""
        if self._super_tables.get(suid) != name:
            self._super_tables[suid] = name
            self._record(f"super-table/{suid}", {"name": name})

    def record_alter(self, uid: int, key: str, sver: int) -> None:
        """Remember that the ALTER_TABLE request ``key`` gave normal table ``uid`` schema version ``sver``.

        A task that rewinds decodes the same ALTER_TABLE again. The decoder
        looks the key up with ``altered_sver``, so it does not apply the change
        a second time.
        """
        if self._alters.get((uid, key)) != sver:
            self._alters[(uid, key)] = sver
            self._record(f"alter/{uid}/{key}", {"sver": sver})

    # -- look-ups ------------------------------------------------------------

    def find_schema(self, suid: int, uid: int, sver: int) -> TableSchema | None:
        """Return the schema rows of table ``uid`` at ``sver`` were built with, or None.

        Child tables (``suid`` != 0) use their super table's schema.
        """
        return self._schemas.get((suid if suid else uid, sver))

    def schema_for_block(self, suid: int, uid: int, sver: int) -> TableSchema:
        """Return the schema for a SUBMIT block, or raise UnknownSchemaError."""
        schema = self.find_schema(suid, uid, sver)
        if schema is None:
            raise UnknownSchemaError(self._unknown_schema_message(suid, uid, sver), suid=suid, uid=uid, sver=sver)
        return schema

    def latest_schema(self, owner: int) -> TableSchema | None:
        """Return the highest-sver schema of a super table (by suid) or normal table (by uid)."""
        versions = [sver for (key, sver) in self._schemas if key == owner]
        return self._schemas[(owner, max(versions))] if versions else None

    def table(self, uid: int) -> TableEntry | None:
        """Return the known child or normal table with this uid."""
        return self._tables.get(uid)

    def table_uid(self, name: str) -> int | None:
        """Return the uid of the known child or normal table called ``name``."""
        return self._uids_by_name.get(name)

    def altered_sver(self, uid: int, key: str) -> int | None:
        """Return the sver that ALTER_TABLE request ``key`` gave table ``uid``, or None if it was not applied."""
        return self._alters.get((uid, key))

    def max_column_id(self, owner: int) -> int | None:
        """Return the highest colId in any stored schema version of a normal table (by uid) or super table."""
        ids = [column.col_id for (key, _), schema in self._schemas.items() if key == owner for column in schema.columns]
        return max(ids) if ids else None

    def table_name(self, uid: int) -> str | None:
        """Return a child or normal table's name, or None when the uid is unknown."""
        entry = self._tables.get(uid)
        return entry.name if entry else None

    def super_table_name(self, suid: int) -> str | None:
        """Return a super table's name, or None when the suid is unknown."""
        return self._super_tables.get(suid)

    def schemas(self) -> list[TableSchema]:
        """Return every stored schema version, ordered by key."""
        return [self._schemas[key] for key in sorted(self._schemas)]

    def _unknown_schema_message(self, suid: int, uid: int, sver: int) -> str:
        table = self.table_name(uid)
        table_text = f"table {table!r} (uid {uid})" if table else f"table uid {uid}"
        if suid:
            super_name = self.super_table_name(suid)
            owner_text = f"super table {super_name!r} (suid {suid})" if super_name else f"super table suid {suid}"
            key_text = f"super_table: <name>, suid: {suid}, sver: {sver}"
        else:
            owner_text = "a normal table"
            key_text = f"normal_table: <name>, uid: {uid}, sver: {sver}"
        known = sorted(version for (key, version) in self._schemas if key == (suid or uid))
        known_text = f"known svers: {known}" if known else "no sver of it is known"
        return (
            f"no schema for {table_text} of {owner_text} at sver {sver} ({known_text})."
            f" Its CREATE or ALTER entry was not decoded, for example because the WAL no longer contains it."
            f" Add a table_schemas entry to the config with {key_text} and its columns."
        )

    # -- persistence -----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (64-bit ids stay ints) that ``from_dict`` restores."""
        data: dict[str, Any] = {
            "formatVersion": _FORMAT_VERSION,
            "schemas": [schema_to_dict(schema) for schema in self.schemas()],
            "superTables": [{"suid": suid, "name": name} for suid, name in sorted(self._super_tables.items())],
            "tables": [
                {
                    "uid": entry.uid,
                    "name": entry.name,
                    "suid": entry.suid,
                    "tags": {name: value_to_json(value) for name, value in entry.tags.items()},
                }
                for entry in sorted(self._tables.values(), key=lambda entry: entry.uid)
            ],
        }
        if self._alters:
            data["alters"] = [
                {"uid": uid, "key": key, "sver": sver} for (uid, key), sver in sorted(self._alters.items())
            ]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SchemaCatalog:
        """Rebuild a catalog saved by ``to_dict``; raises ValueError on an unknown format version."""
        version = data.get("formatVersion")
        if version != _FORMAT_VERSION:
            raise ValueError(f"schema catalog format version {version!r} is not supported; expected {_FORMAT_VERSION}")
        catalog = cls()
        for item in data.get("schemas", ()):
            catalog.add_schema(schema_from_dict(item))
        for item in data.get("superTables", ()):
            catalog.add_super_table(int(item["suid"]), str(item["name"]))
        for item in data.get("tables", ()):
            tags = {name: value_from_json(value) for name, value in item.get("tags", {}).items()}
            catalog.add_table(int(item["uid"]), str(item["name"]), suid=int(item.get("suid", 0)), tags=tags)
        for item in data.get("alters", ()):
            catalog.record_alter(int(item["uid"]), str(item["key"]), int(item["sver"]))
        return catalog

    def update(self, other: SchemaCatalog) -> None:
        """Copy every schema and table of ``other`` into this catalog."""
        for schema in other.schemas():
            self.add_schema(schema)
        self._super_tables.update(other._super_tables)
        self._tables.update(other._tables)
        for entry in other._tables.values():
            self._uids_by_name[entry.name] = entry.uid
        self._alters.update(other._alters)

    def add_schemas(self, schemas: Iterable[TableSchema]) -> None:
        """Store several schema versions."""
        for schema in schemas:
            self.add_schema(schema)
