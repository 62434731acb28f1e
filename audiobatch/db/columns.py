"""Values from outside (the API's headers and error bodies) fitted to the columns that keep them.

A ``character-cost`` header of 99999999999 overflows PostgreSQL's ``integer``; a request id longer
than ``String(128)`` is refused with a DataError. Recording an attempt must not fail on either:
the API's answer is paid for. Strings are cut to their column's length, integers clamped to their
type's range (PostgreSQL's, the narrowest of our databases), each change logged with the row's
table and column. Lengths and types are read from the model, so they cannot drift from it.
"""

from __future__ import annotations

import logging
import reprlib
from typing import Any, TypeVar

from sqlalchemy import BigInteger, ColumnElement, Integer, SmallInteger, String, inspect

from audiobatch.db.models import Base

M = TypeVar("M", bound=Base)
log = logging.getLogger(__name__)

INTEGER_RANGES: list[tuple[type[Integer], int]] = [  # most specific first: BigInteger is an Integer
    (BigInteger, 63),
    (SmallInteger, 15),
    (Integer, 31),
]


def fit_value(column: ColumnElement[Any], value: Any) -> Any:
    """``value`` as ``column`` can hold it: a string cut to the column's length, an integer
    clamped to the range of its type; anything else as it is."""
    kind = column.type
    if isinstance(value, str) and isinstance(kind, String) and kind.length is not None:
        return value[: kind.length]
    if isinstance(value, int) and not isinstance(value, bool):
        bits = next((bits for cls, bits in INTEGER_RANGES if isinstance(kind, cls)), None)
        if bits is not None:
            return max(-(2**bits), min(value, 2**bits - 1))
    return value


def fit_to_columns(row: M) -> M:
    """A new transient row of the same model, with the values set on ``row`` fitted to their
    columns (see :func:`fit_value`); ``row`` is left as it is. Each change is logged."""
    model = type(row)
    table = model.__tablename__
    given = inspect(row).dict
    values: dict[str, Any] = {}
    for attr in inspect(model).column_attrs:
        if attr.key not in given:
            continue  # unset: the column's default applies
        value = given[attr.key]
        values[attr.key] = fitted = fit_value(attr.columns[0], value)
        if fitted != value:
            log.warning(
                "%s.%s: %s does not fit the column; recorded as %s",
                table, attr.key, reprlib.repr(value), reprlib.repr(fitted),
            )  # fmt: skip
    return model(**values)
