"""One multi-row INSERT of new model instances, for ingestion's hot path.

Django's ``bulk_create`` sends every value of every row through its field's whole
conversion chain and, on PostgreSQL, renders each column as an array literal in
Python; the driver then parses the statement for its placeholders, in Python too,
two regular-expression matches a value. For ingestion's three inserts per message
(the event, the message, its live events) that was a third of the worker's time.

Here a field's conversion is chosen once per statement, and:

- on PostgreSQL the rows travel as one JSON parameter, unpacked by the server
  (``json_to_recordset``), so the driver handles one value, not hundreds;
- elsewhere (SQLite) a ``VALUES`` list, where a column that is empty in every row
  (NULL, '', 0, false) is written as that literal rather than as parameters.

Ids come back in the order of the instances, as with ``bulk_create`` (which relies
on the same ordering of ``INSERT … SELECT … RETURNING`` on PostgreSQL). No signals
are sent, as with ``bulk_create``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, Field, JSONField, Model
from django.db.models.constants import OnConflict
from django.db.models.fields import AutoFieldMixin

M = TypeVar("M", bound=Model)

# Field types whose Python values the drivers (and JSON) take as they are.
_AS_IS = {
    *("CharField", "TextField", "BooleanField", "ForeignKey"),
    *("IntegerField", "BigIntegerField", "SmallIntegerField"),
    *("PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField"),
}


def insert(objs: Sequence[M], *, ignore_conflicts: bool = False) -> None:
    """INSERT unsaved instances of one model in one statement, in order.

    Their ids are set, unless ``ignore_conflicts`` (a row already there is skipped,
    so the ids returned would not line up).
    """
    if not objs:
        return
    meta = type(objs[0])._meta
    if not isinstance(meta.pk, AutoFieldMixin):
        raise TypeError(f"{meta.label}: inserts.insert needs an auto-increment id")
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the ``connection`` proxy costs
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for obj in objs:
                field.pre_save(obj, add=True)
    as_json = db.vendor == "postgresql" and all(_fits_json(f) for f in fields)
    source, params = (_from_json if as_json else _from_values)(objs, fields, db)
    quote = db.ops.quote_name
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    sql = (
        f"{db.ops.insert_statement(on_conflict=on_conflict)} {quote(meta.db_table)} "
        f"({', '.join(quote(f.column) for f in fields)}) {source}"
    )
    if ignore_conflicts:
        sql += db.ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
    else:
        sql += f" RETURNING {quote(meta.pk.column)}"
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [] if ignore_conflicts else cursor.fetchall()
    for obj, (pk,) in zip(objs, ids, strict=False):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = db.alias


# --- PostgreSQL: the rows as one JSON document ---------------------------------------------


def _fits_json(field: Field[Any, Any]) -> bool:
    if isinstance(field, JSONField):
        return field.encoder is None
    return field.get_internal_type() in _AS_IS or isinstance(field, DateTimeField)


def _from_json(
    objs: Sequence[Model], fields: list[Field[Any, Any]], db: BaseDatabaseWrapper
) -> tuple[str, list[Any]]:
    names = [f.attname for f in fields]
    times = [n for f, n in zip(fields, names, strict=True) if isinstance(f, DateTimeField)]
    rows = []
    for obj in objs:
        row = {name: getattr(obj, name) for name in names}
        for name in times:
            if isinstance(value := row[name], datetime):
                row[name] = value.isoformat()
        rows.append(row)
    quote = db.ops.quote_name
    record = ", ".join(f"{quote(n)} {f.db_type(db)}" for f, n in zip(fields, names, strict=True))
    columns = ", ".join(quote(n) for n in names)
    document = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    # Names and types come from the model (quoted); the rows are the one parameter.
    source = f"SELECT {columns} FROM json_to_recordset(%s::json) AS r ({record})"  # noqa: S608
    return source, [document]


# --- elsewhere: a VALUES list --------------------------------------------------------------

_LITERALS = {type(None): "NULL", str: "''", int: "0", bool: "FALSE"}


def _from_values(
    objs: Sequence[Model], fields: list[Field[Any, Any]], db: BaseDatabaseWrapper
) -> tuple[str, list[Any]]:
    converters = [_converter(f, db) for f in fields]
    rows = [
        [
            value if convert is None else convert(value)
            for field, convert in zip(fields, converters, strict=True)
            for value in (getattr(obj, field.attname),)
        ]
        for obj in objs
    ]
    constant = [_literal(rows, column) for column in range(len(fields))]
    row = f"({', '.join('%s' if c is None else c for c in constant)})"
    params = [v for r in rows for v, c in zip(r, constant, strict=True) if c is None]
    return f"VALUES {', '.join([row] * len(rows))}", params


def _literal(rows: list[list[Any]], column: int) -> str | None:
    """The SQL literal of a column whose every value is empty; None if any is not."""
    first = rows[0][column]
    literal = _LITERALS.get(type(first))  # exact types: an enum member or a str subclass is data
    if literal is None or first:
        return None
    if all(type(r[column]) is type(first) and not r[column] for r in rows):
        return literal
    return None


def _converter(field: Field[Any, Any], db: BaseDatabaseWrapper) -> Callable[[Any], Any] | None:
    if field.get_internal_type() in _AS_IS:
        return None
    return lambda value: field.get_db_prep_save(value, db)
