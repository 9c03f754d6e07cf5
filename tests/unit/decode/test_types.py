"""Type names and value conversion in connector.decode.types and render."""

from __future__ import annotations

import struct

import pytest

from connector.decode.model import DecimalValue, TdType
from connector.decode.render import decimal_text, render_value
from connector.decode.types import decode_fixed, decode_var, type_from_name, type_name
from connector.errors import DecodeError


@pytest.mark.parametrize(
    ("name", "precision", "expected"),
    [
        ("TIMESTAMP", None, TdType.TIMESTAMP),
        ("binary", None, TdType.VARCHAR),
        ("INT  UNSIGNED", None, TdType.UINT),
        ("UBIGINT", None, TdType.UBIGINT),
        ("DECIMAL", 18, TdType.DECIMAL64),
        ("DECIMAL", 19, TdType.DECIMAL),
        ("GEOMETRY", None, TdType.GEOMETRY),
    ],
)
def test_type_from_name(name: str, precision: int | None, expected: TdType) -> None:
    assert type_from_name(name, precision=precision) == expected


def test_type_from_name_rejects_unknown() -> None:
    with pytest.raises(ValueError) as caught:
        type_from_name("STRING")

    assert "unknown TDengine type 'STRING'" in str(caught.value)


def test_type_names_match_tdengine() -> None:
    assert type_name(TdType.UTINYINT) == "TINYINT UNSIGNED"
    assert type_name(TdType.DECIMAL64) == "DECIMAL"
    assert type_name(99) == "UNKNOWN(99)"


def test_decode_fixed_widens_float32_exactly() -> None:
    raw = struct.pack("<f", 3.4028234663852886e38)

    assert decode_fixed(TdType.FLOAT, raw, 0) == 3.4028234663852886e38


def test_decode_fixed_decimal128() -> None:
    unscaled = -12345678901234567890123456780123456789
    raw = (unscaled & (2**128 - 1)).to_bytes(16, "little")

    assert decode_fixed(TdType.DECIMAL, raw, 0, precision=38, scale=10) == DecimalValue(unscaled, 38, 10)


def test_decode_fixed_decimal_needs_scale() -> None:
    with pytest.raises(DecodeError) as caught:
        decode_fixed(TdType.DECIMAL64, bytes(8), 0)

    assert "needs precision and scale" in str(caught.value)


def test_decode_var_nchar_and_bad_length() -> None:
    assert decode_var(TdType.NCHAR, "𝄞a".encode("utf-32-le")) == "𝄞a"
    with pytest.raises(DecodeError):
        decode_var(TdType.NCHAR, b"abc")


@pytest.mark.parametrize(
    ("unscaled", "scale", "text"),
    [(0, 4, "0"), (-1, 4, "-0.0001"), (77000, 4, "7.7000"), (123456789, 4, "12345.6789"), (5, 0, "5")],
)
def test_decimal_text(unscaled: int, scale: int, text: str) -> None:
    assert decimal_text(unscaled, scale) == text


def test_render_value_conventions() -> None:
    assert render_value(float("nan"), TdType.DOUBLE) == "NaN"
    assert render_value(float("-inf"), TdType.FLOAT) == "-Infinity"
    assert render_value(b"a\x00b", TdType.VARCHAR) == {"hex": "610062"}
    assert render_value(b"ok", TdType.VARCHAR) == "ok"
    assert render_value(b"ok", TdType.VARBINARY) == {"hex": "6f6b"}
    assert render_value(None, TdType.INT) is None
