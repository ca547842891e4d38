"""Our HPACK decoder and encoder, held to the ``hpack`` package (h2's own).

The decoder must accept and refuse exactly what hpack does, leave its dynamic
table as hpack leaves its own, and give the same header lists; the encoder's
blocks must decode (with hpack) to the fields it was given.
"""

from __future__ import annotations

import hpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pounce_protocols._hpack import (
    BLOCK_CACHE_SIZE,
    CACHED_BLOCK_LIMIT,
    STATIC_TABLE,
    Decoder,
    Encoder,
    HeaderListTooLarge,
    HPACKError,
)

from ._helpers import PROPERTY_SETTINGS
from ._http2_helpers import hpack_literal

LIMIT = 16_384

names = st.sampled_from(
    [b":method", b":path", b"host", b"user-agent", b"cookie", b"x-a", b"x-long-name", b""]
    + [name for name, _ in STATIC_TABLE[::7]]
)
values = st.one_of(
    st.sampled_from([b"", b"GET", b"/", b"/index.html", b"gzip, deflate", b"v" * 300]),
    st.binary(max_size=40),
)
fields = st.lists(st.tuples(names, values), max_size=8)


def reference_decoder(limit: int = LIMIT) -> hpack.Decoder:
    decoder = hpack.Decoder()
    decoder.max_header_list_size = limit
    return decoder


def reference(decoder: hpack.Decoder, block: bytes) -> tuple[object, ...]:
    try:
        decoded = decoder.decode(block, raw=True)
    except hpack.OversizedHeaderListError:
        return ("too-large",)
    except (hpack.HPACKError, IndexError, TypeError):
        return ("error",)
    return ("ok", tuple((bytes(n), bytes(v)) for n, v in decoded))


def ours(decoder: Decoder, block: bytes) -> tuple[object, ...]:
    try:
        decoded = decoder.decode(block)
    except HeaderListTooLarge:
        return ("too-large",)
    except HPACKError:
        return ("error",)
    return ("ok", decoded)


def same(ref: hpack.Decoder, mine: Decoder, block: bytes) -> tuple[object, ...]:
    expected = reference(ref, block)
    assert ours(mine, block) == expected, block
    if expected[0] == "ok":
        assert mine.table == list(ref.header_table.dynamic_entries)
        assert mine.table_size == ref.header_table_size
    return expected


@PROPERTY_SETTINGS
@given(
    st.lists(
        st.tuples(fields, st.booleans(), st.sampled_from([None, 0, 100, 256, 4096])), max_size=8
    )
)
def test_blocks_hpack_encodes_decode_the_same(sequence) -> None:
    encoder = hpack.Encoder()
    ref, mine = reference_decoder(), Decoder(LIMIT)
    for header_list, huffman, table_size in sequence:
        if table_size is not None:
            encoder.header_table_size = table_size
        block = encoder.encode(header_list, huffman=huffman)
        assert same(ref, mine, block) == ("ok", tuple(header_list))


@PROPERTY_SETTINGS
@given(st.lists(st.binary(max_size=30), min_size=1, max_size=6), fields)
def test_arbitrary_bytes_are_refused_or_accepted_alike(blocks, header_list) -> None:
    # A valid block first, so that the dynamic table has entries to refer to.
    ref, mine = reference_decoder(), Decoder(LIMIT)
    same(ref, mine, hpack.Encoder().encode(header_list))
    for block in blocks:
        if same(ref, mine, block)[0] != "ok":
            break  # the connection would be over


INTERESTING = [
    b"\x80",  # index 0
    b"\xbe",  # index 62 with an empty dynamic table
    b"\xff\x80\x80\x80\x80\x00",  # a long but valid integer
    b"\xff\x80\x80\x80\x80\x80\x00",  # one octet too many
    # The same lengths for a value that is fine (a table size update to 31):
    # only the length of the integer can refuse the second.
    b"\x3f\x80\x80\x80\x80\x00\x82",
    b"\x3f\x80\x80\x80\x80\x80\x00\x82",
    b"\xff\x80",  # truncated integer
    b"\x3f\xe1\x1f",  # size update to 4096
    b"\x3f\xe2\x1f",  # size update over 4096
    b"\x82\x20",  # size update after a field
    b"\x20\x20\x82",  # two size updates first
    b"\x40\x01x\x01y",  # literal, incremental indexing
    b"\x40\x81\xff\x01y",  # Huffman name with EOS
    b"\x00\x82\x9c\x6b\x01y",  # Huffman name
    b"\x00\x02x",  # truncated name
    b"\x00",  # literal with nothing after it
    b"\x10\x01x\x00",  # never indexed
    b"\x0f\x2f\x01y",  # literal, indexed name over 15
    b"\x4f\x2f",  # literal, no value
    b"\x00\x80\x80",  # empty Huffman strings
    b"\x00\x81\x00\x00",  # Huffman padding of zeros
]


@pytest.mark.parametrize("block", INTERESTING)
def test_edge_cases_are_decoded_alike(block: bytes) -> None:
    same(reference_decoder(), Decoder(LIMIT), block)


def test_a_bomb_stops_at_the_limit() -> None:
    block = hpack_literal(b"x", b"b" * 4000, index=True)
    block += b"\xbe" * 10
    ref, mine = reference_decoder(8000), Decoder(8000)
    assert same(ref, mine, block) == ("too-large",)


def test_eviction_and_resizing_follow_the_reference() -> None:
    encoder = hpack.Encoder()
    ref, mine = reference_decoder(), Decoder(LIMIT)
    for round_ in range(20):
        encoder.header_table_size = [4096, 200, 0, 1000][round_ % 4]
        header_list = [(b"x-%d" % i, b"v" * (round_ * 10 + i)) for i in range(5)]
        same(ref, mine, encoder.encode(header_list))


@pytest.mark.parametrize("over", [0, 1], ids=["to-the-byte", "one-over"])
def test_a_table_filled_to_the_byte_keeps_its_oldest_entry(over: int) -> None:
    # Four entries of 1024 bytes (name + value + 32) fill 4096 exactly and all
    # stay; one byte more evicts the oldest (entry 65). A size update to what
    # the table holds keeps it too; one byte less evicts it.
    ref, mine = reference_decoder(), Decoder(LIMIT)
    block = b"".join(
        hpack_literal(b"x-%d" % i, b"v" * (1024 - 32 - 3 + (over if i == 3 else 0)), index=True)
        for i in range(4)
    )
    same(ref, mine, block)
    same(ref, mine, bytes([0x80 | 65]))
    same(ref, mine, b"\x3f\xe1\x1f" + bytes([0x80 | 64]))  # resize to 4096
    same(ref, mine, b"\x3f\xe0\x1f" + bytes([0x80 | 64]))  # to 4095
    same(ref, mine, bytes([0x80 | 64]))


# ------------------------------------------------------------- the cache


def test_a_block_that_changes_nothing_is_decoded_once() -> None:
    decoder = Decoder(LIMIT)
    first = decoder.decode(b"\x40\x01x\x01y")  # adds x: y
    again = decoder.decode(b"\x82\xbe")
    assert again == ((b":method", b"GET"), (b"x", b"y"))
    assert decoder.decode(b"\x82\xbe") is again
    # A change to the table: the same bytes now mean something else.
    decoder.decode(b"\x40\x01z\x01w")
    assert decoder.decode(b"\x82\xbe") == ((b":method", b"GET"), (b"z", b"w"))
    assert first == ((b"x", b"y"),)


def test_the_block_cache_is_bounded() -> None:
    decoder = Decoder(LIMIT)
    for index in range(1, BLOCK_CACHE_SIZE * 3):
        decoder.decode(bytes([0x80 | (index % 61 + 1), 0x80 | (index // 61 + 1)]))
    assert len(decoder._blocks) <= BLOCK_CACHE_SIZE


# ------------------------------------------------------------- encoding


heads = st.lists(
    st.tuples(
        st.sampled_from(
            [b"content-type", b"content-length", b"date", b"server", b"x-custom", b"set-cookie"]
        ),
        st.binary(max_size=50),
    ),
    max_size=8,
)


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(st.integers(100, 999), heads), max_size=6), st.integers(0, 4096))
def test_our_blocks_decode_to_the_fields_given(responses, table_size) -> None:
    encoder = Encoder()
    decoder = hpack.Decoder()
    decoder.max_allowed_table_size = table_size  # any SETTINGS_HEADER_TABLE_SIZE will do
    for status, header_list in responses:
        block = encoder.encode(status, tuple(header_list))
        decoded = decoder.decode(block, raw=True)
        assert decoded == [(b":status", b"%d" % status), *header_list]
        assert decoder.header_table.dynamic_entries == type(decoder.header_table.dynamic_entries)()


def test_a_repeated_head_costs_a_lookup() -> None:
    encoder = Encoder()
    fields = ((b"content-type", b"text/plain"), (b"content-length", b"13"))
    first = encoder.encode(200, fields)
    assert first[:1] == b"\x20"  # the first block gives up the dynamic table
    again = encoder.encode(200, fields)
    assert again == first[1:]
    assert encoder.encode(200, fields) is again


def test_static_entries_are_single_octets() -> None:
    encoder = Encoder()
    encoder.encode(204, ())
    assert encoder.encode(200, ()) == b"\x88"
    assert encoder.encode(404, ()) == b"\x8d"


@pytest.mark.parametrize(
    "name", [b"accept-charset", b"content-type", b"www-authenticate", b"x-new"]
)
def test_integers_at_the_prefix_boundaries_encode_right(name: bytes) -> None:
    # Static indexes 15 (the 4-bit prefix's limit), 31 and 61; lengths around
    # 127 (the 7-bit prefix's limit). Bytes Huffman would make longer stay raw.
    encoder = Encoder()
    decoder = hpack.Decoder()
    for size in (0, 1, 14, 15, 16, 126, 127, 128, 200):
        fields = ((name, b"\xff" * size), (name + b"-" * (size % 3), b"v" * size))
        decoded = decoder.decode(encoder.encode(200, fields), raw=True)
        assert decoded == [(b":status", b"200"), *fields]


def test_large_blocks_and_lists_are_decoded_but_not_remembered() -> None:
    # What a client can make a connection hold stays small: a long block, or a
    # short one of references to a large entry, is decoded every time.
    decoder = Decoder(LIMIT)
    decoder.decode(hpack_literal(b"x-big", b"b" * 3000, index=True))
    references = bytes([0x80 | 62]) * 2  # two references: 6 KB decoded from 2 bytes
    long_block = hpack_literal(b"x-long", b"l" * (CACHED_BLOCK_LIMIT + 1))
    for block in (references, long_block):
        assert decoder.decode(block) == decoder.decode(block)
        assert decoder.decode(block) is not decoder.decode(block)
    assert len(decoder._blocks) == 0
    small = bytes([0x82])
    assert decoder.decode(small) is decoder.decode(small)
