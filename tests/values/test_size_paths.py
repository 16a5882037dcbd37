from __future__ import annotations

import pytest

from pyconvex.errors import InvalidValueError, LimitExceededError
from pyconvex.values import MISSING, check_document_limits, get_path, validate_field_name


def test_limits_name_table_path_and_limit():
    with pytest.raises(LimitExceededError, match=r"'t' is too large.*limit: 1048576") as info:
        check_document_limits({"s": "x" * (1 << 20)}, table="t")
    assert info.value.short_msg == "DocumentTooLarge"
    deep: dict = {}
    cur = deep
    for _ in range(20):
        cur["a"] = {}
        cur = cur["a"]
    with pytest.raises(LimitExceededError) as info:
        check_document_limits(deep, table="t")
    assert info.value.short_msg == "NestingTooDeep"
    with pytest.raises(LimitExceededError, match="tags") as info:
        check_document_limits({"tags": list(range(8193))}, table="t")
    assert info.value.short_msg == "ArrayTooLong"
    with pytest.raises(LimitExceededError) as info:
        check_document_limits({f"f{i}": i for i in range(1025)}, table="t")
    assert info.value.short_msg == "TooManyFields"


def test_field_names_and_paths():
    validate_field_name("ok", top_level=True)
    validate_field_name("_nested", top_level=False)
    for bad in ("_x", "$x", "", "é"):
        with pytest.raises(InvalidValueError):
            validate_field_name(bad, top_level=True)
    assert get_path({"a": {"b": 1}}, "a.b") == 1
    assert get_path({"a": 1}, "a.b") is MISSING
    assert get_path({}, "a") is MISSING
