"""A mistyped validator name says what exists instead of ``'_V' object has no attribute``."""

from __future__ import annotations

import pytest

from pyconvex import v


def test_a_misspelt_validator_suggests_the_right_one() -> None:
    with pytest.raises(AttributeError) as info:
        v.strng()  # type: ignore[attr-defined]
    message = str(info.value)
    assert message.startswith("v.strng is not a validator. Did you mean v.string()?")
    assert "v.optional()" in message and "v.union()" in message  # the full list follows
    assert "_V" not in message


def test_an_unknown_name_with_no_close_match_lists_the_validators() -> None:
    with pytest.raises(AttributeError, match=r"v\.money is not a validator\. The validators are: v\.any\(\)"):
        v.money()  # type: ignore[attr-defined]


def test_real_validators_and_attribute_probes_are_unaffected() -> None:
    assert repr(v.string()) == "v.string()"
    assert not hasattr(v, "__wrapped__")  # tools probing for attributes get False, not a crash
