"""A write computes all of its table's index keys at once (``index_keys``, each field
encoded once): they must be exactly the keys ``index_key`` gives one index at a time,
which reads and the committer compare them with."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pyconvex.database.catalog import index_info
from pyconvex.database.documents import index_key, index_keys
from pyconvex.values import MISSING, Id, decode_id, new_id
from pyconvex.values.keys import encode_element, encode_value
from tests.values.strategies import floats, values

INDEXES = [
    index_info(1, "t", 10001, "by_id", ()),
    index_info(2, "t", 10001, "by_creation_time", ()),
    index_info(3, "t", 10001, "by_a", ("a",)),
    index_info(4, "t", 10001, "by_a_nested", ("a", "b.c")),
    index_info(5, "t", 10001, "by_missing", ("absent",), "backfilling"),
]


@given(
    a=values, c=values, created=floats,
    doc_id=st.one_of(st.builds(new_id, st.just(10001)),
                     st.builds(lambda i: Id(i, "t"), st.builds(new_id, st.just(10001))),
                     st.text(max_size=8)),
)
def test_all_keys_at_once_equal_one_index_at_a_time(
    a: object, c: object, created: float, doc_id: str
) -> None:
    doc = {"_id": doc_id, "_creationTime": created, "a": a, "b": {"c": c}}
    keys = index_keys(INDEXES, doc)  # type: ignore[arg-type]
    assert keys == {index.id: index_key(index, doc) for index in INDEXES}  # type: ignore[arg-type]


def test_a_new_id_decodes_to_its_table() -> None:
    for number in (1, 10001, 2**20):
        doc_id = new_id(number)
        assert decode_id(doc_id)[0] == number
        assert decode_id(str(doc_id)) == decode_id(Id(doc_id, "t"))


@given(value=st.one_of(values, st.just(MISSING)))
def test_one_element_encodes_as_the_generic_encoder(value: object) -> None:
    assert encode_element(value) == encode_value(value)  # type: ignore[arg-type]
