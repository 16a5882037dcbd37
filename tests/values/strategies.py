"""Hypothesis strategies for every Convex value, edge cases included."""

from __future__ import annotations

from hypothesis import strategies as st

from pyconvex.values import INT64_MAX, INT64_MIN, MISSING

floats = st.one_of(
    st.floats(allow_nan=False),
    st.sampled_from([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 5e-324, -5e-324]),
    # NaNs with other payloads and signs
    st.integers(0, 2**52 - 1).map(
        lambda m: __import__("struct").unpack("<d", ((0x7FF << 52) | (m | 1)).to_bytes(8, "little"))[0]
    ),
)
ints = st.one_of(st.integers(INT64_MIN, INT64_MAX), st.sampled_from([INT64_MIN, INT64_MAX, 0, -1]))
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["", "\x00", "a\x00b", "\x00\x00", "é", "😀"]
)
field_names = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=6
).filter(lambda s: not s.startswith("$"))
blobs = st.binary(max_size=8) | st.sampled_from([b"", b"\x00", b"\xff"])
scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts, blobs)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(field_names, children, max_size=4),
    max_leaves=12,
)
key_elements = st.one_of(values, st.just(MISSING))
