"""Mongo-style metadata filters (Chroma's language) compiled to SQL, so filtering happens before search.

`{"year": {"$gte": 2020}, "tags": {"$contains": "ml"}, "$or": [{...}, {...}]}`; a bare value means `$eq`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, literal, not_, or_, select, true
from sqlalchemy.dialects import postgresql

from latent.errors import InvalidInput
from latent.store.models import DocumentRow

COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$contains")
LOGICAL = ("$and", "$or", "$not")
_FIELD = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$")
Scalar = str | int | float | bool


def _bad(message: str, **details: Any) -> InvalidInput:
    return InvalidInput(message, code="invalid_filter", details=details)


class FilterCompiler:
    """Turns a filter dict into a boolean SQL expression over `documents`, for SQLite or PostgreSQL.

    `extra_fields` maps reserved field names (e.g. `cluster`) to functions building their clause.
    """

    def __init__(
        self,
        dialect: str,
        max_depth: int = 8,
        extra_fields: dict[str, Callable[[str, Any], ColumnElement[bool]]] | None = None,
    ):
        self.dialect = dialect
        self.max_depth = max_depth
        self.extra_fields = extra_fields or {}

    def compile(self, spec: dict[str, Any] | None) -> ColumnElement[bool] | None:
        if spec is None or spec == {}:
            return None
        return self._node(spec, 1)

    def _node(self, spec: Any, depth: int) -> ColumnElement[bool]:
        if depth > self.max_depth:
            raise _bad(f"filter is nested deeper than {self.max_depth} levels", max_depth=self.max_depth)
        if not isinstance(spec, dict):
            raise _bad("a filter must be a JSON object", got=type(spec).__name__)
        clauses = [self._entry(key, value, depth) for key, value in spec.items()]
        return and_(*clauses) if len(clauses) != 1 else clauses[0]

    def _entry(self, key: str, value: Any, depth: int) -> ColumnElement[bool]:
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise _bad(f"{key} takes a non-empty list of filters", operator=key)
            parts = [self._node(v, depth + 1) for v in value]
            return and_(*parts) if key == "$and" else or_(*parts)
        if key == "$not":
            # A missing field makes a comparison NULL and NOT NULL drops the row: count it as false.
            return not_(func.coalesce(self._node(value, depth + 1), false()))
        if key.startswith("$"):
            raise _bad(f"unknown operator {key!r}; use one of {', '.join(LOGICAL + COMPARISONS)}", operator=key)
        if not _FIELD.match(key):
            raise _bad(f"invalid field name {key!r}", field=key)
        if isinstance(value, dict):
            if not value:
                raise _bad(f"empty condition for field {key!r}", field=key)
            parts = [self._condition(key, op, arg) for op, arg in value.items()]
            return and_(*parts) if len(parts) != 1 else parts[0]
        return self._condition(key, "$eq", value)

    def _condition(self, field: str, op: str, arg: Any) -> ColumnElement[bool]:
        if op not in COMPARISONS:
            raise _bad(
                f"unknown operator {op!r} on field {field!r}; use one of {', '.join(COMPARISONS)}",
                operator=op,
                field=field,
            )
        if field in self.extra_fields:
            return self.extra_fields[field](op, arg)
        if field == "id":
            return self._id_condition(op, arg)
        if op in ("$in", "$nin"):
            if not isinstance(arg, list) or not all(_is_scalar(a) for a in arg):
                raise _bad(f"{op} takes a list of scalars", operator=op, field=field)
        elif op == "$exists":
            if not isinstance(arg, bool):
                raise _bad("$exists takes true or false", field=field)
        elif not _is_scalar(arg):
            raise _bad(f"{op} on {field!r} takes a string, number or boolean", operator=op, field=field)
        elif op in ("$gt", "$gte", "$lt", "$lte") and isinstance(arg, bool):
            raise _bad(f"{op} needs a number or string", operator=op, field=field)
        if self.dialect == "postgresql":
            return _postgres(field, op, arg)
        return _sqlite(field, op, arg)

    def _id_condition(self, op: str, arg: Any) -> ColumnElement[bool]:
        col = DocumentRow.external_id
        if op == "$eq":
            return col == str(arg)
        if op == "$ne":
            return col != str(arg)
        if op in ("$in", "$nin") and isinstance(arg, list):
            clause = col.in_([str(a) for a in arg])
            return clause if op == "$in" else not_(clause)
        raise _bad(f"field 'id' supports $eq, $ne, $in and $nin, not {op}", operator=op)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, Scalar) and value is not None


def _sqlite_path(field: str) -> str:
    return "$" + "".join(f'."{part}"' for part in field.split("."))


def _sqlite_value(value: Scalar) -> Any:
    return int(value) if isinstance(value, bool) else value


def _sqlite(field: str, op: str, arg: Any) -> ColumnElement[bool]:
    path = _sqlite_path(field)
    col = DocumentRow.metadata_
    extracted = func.json_extract(col, path)
    present = func.json_type(col, path).is_not(None)
    if op == "$exists":
        return present if arg else not_(present)
    if op == "$contains":
        each = func.json_each(col, path).table_valued("value", "type")
        if isinstance(arg, bool):  # json true/false come back as 1/0 with type 'true'/'false'
            value_ok = each.c.type == ("true" if arg else "false")
        else:  # and 1 must not match true
            kinds = ["integer", "real"] if isinstance(arg, int | float) else ["text"]
            value_ok = and_(each.c.type.in_(kinds), each.c.value == arg)
        return exists(select(literal(1)).select_from(each).where(value_ok))
    if op in ("$in", "$nin"):  # one kind-checked $eq per value: SQLite alone would match true with 1
        if not arg:
            return false() if op == "$in" else true()
        any_equal = or_(*[_sqlite(field, "$eq", a) for a in arg])
        return any_equal if op == "$in" else or_(extracted.is_(None), not_(any_equal))
    value = _sqlite_value(arg)
    kind_ok = _sqlite_same_kind(col, path, arg)
    if op == "$eq":
        return and_(kind_ok, extracted == value)
    if op == "$ne":
        return or_(extracted.is_(None), not_(kind_ok), extracted != value)
    compare = {
        "$gt": extracted > value,
        "$gte": extracted >= value,
        "$lt": extracted < value,
        "$lte": extracted <= value,
    }[op]
    return and_(kind_ok, compare)


def _sqlite_same_kind(col: Any, path: str, arg: Scalar) -> ColumnElement[bool]:
    """Compare numbers with numbers and strings with strings (SQLite would happily mix them)."""
    jtype = func.json_type(col, path)
    if isinstance(arg, bool):
        return jtype.in_(["true", "false"])
    if isinstance(arg, int | float):
        return jtype.in_(["integer", "real"])
    return jtype == "text"


def _postgres(field: str, op: str, arg: Any) -> ColumnElement[bool]:
    path = postgresql.array(field.split("."))
    node = DocumentRow.metadata_.op("#>")(path)

    def jsonb(value: Any) -> Any:
        return func.to_jsonb(literal(value))

    if op == "$exists":
        clause = node.is_not(None)
        return clause if arg else not_(clause)
    if op == "$contains":
        return or_(node.op("@>")(func.jsonb_build_array(literal(arg))), node == jsonb(arg))
    if op == "$in":
        return or_(*[node == jsonb(a) for a in arg]) if arg else false()
    if op == "$nin":
        return or_(node.is_(None), not_(or_(*[node == jsonb(a) for a in arg]))) if arg else true()
    if op == "$eq":
        return node == jsonb(arg)
    if op == "$ne":
        return or_(node.is_(None), node != jsonb(arg))
    same_kind = func.jsonb_typeof(node) == ("number" if isinstance(arg, int | float) else "string")
    compare = {
        "$gt": node > jsonb(arg),
        "$gte": node >= jsonb(arg),
        "$lt": node < jsonb(arg),
        "$lte": node <= jsonb(arg),
    }[op]
    return and_(same_kind, compare)
