"""HPACK (RFC 7541) for the HTTP/2 fast path: our decoder, and a context-free encoder.

Theory of operation
-------------------
HPACK state is per connection and per direction. A server *decodes* what the
client encodes, with the client's choices (its dynamic table, its indexing,
its Huffman strings), so :class:`Decoder` is a whole decoder: integers,
string literals, the static table and a dynamic table with eviction, table
size updates, and a cap on the decoded size of a header list (an HPACK bomb
stops while it is still being decoded). It accepts and refuses exactly what
the ``hpack`` package (``h2``'s decoder, the reference) does; Huffman strings
are decoded by ``hpack``'s own routine, so that they are too.

Clients repeat themselves: after its first request, a client such as h2load
or a browser fetching assets sends header blocks made only of references to
entries already in the tables. Such a block changes nothing, so it decodes
to the same list for as long as the dynamic table stays as it is. The
decoder numbers the table's states (:attr:`Decoder.generation`) and
remembers blocks that changed nothing; a block seen before, with the table
unchanged since, costs one dictionary lookup and gives the very same tuple.

The *encoder* decides alone how to encode, and RFC 7541 lets it use no
dynamic table at all. :class:`Encoder` uses only the static table: a field is
an index when the static table holds it whole, else a literal (its name
indexed when the table has the name) never added to any table. Its first
block announces a dynamic table of size 0, so no SETTINGS_HEADER_TABLE_SIZE
the peer may send later asks anything of it. The same fields then always
encode to the same bytes, whatever was sent before: a head the application
repeats is encoded once and looked up afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable

from hpack.exceptions import HPACKDecodingError
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.huffman_table import decode_huffman

__all__ = ["STATIC_TABLE", "Decoder", "Encoder", "HPACKError", "HeaderListTooLarge"]

# RFC 7541 Appendix A: index 1 is the first.
_STATIC = """
:authority|;:method|GET;:method|POST;:path|/;:path|/index.html;:scheme|http;:scheme|https;
:status|200;:status|204;:status|206;:status|304;:status|400;:status|404;:status|500;
accept-charset|;accept-encoding|gzip, deflate;accept-language|;accept-ranges|;accept|;
access-control-allow-origin|;age|;allow|;authorization|;cache-control|;content-disposition|;
content-encoding|;content-language|;content-length|;content-location|;content-range|;
content-type|;cookie|;date|;etag|;expect|;expires|;from|;host|;if-match|;
if-modified-since|;if-none-match|;if-range|;if-unmodified-since|;last-modified|;link|;
location|;max-forwards|;proxy-authenticate|;proxy-authorization|;range|;referer|;refresh|;
retry-after|;server|;set-cookie|;strict-transport-security|;transfer-encoding|;user-agent|;
vary|;via|;www-authenticate|
"""
#: The static table; ``STATIC_TABLE[i - 1]`` is entry ``i``.
STATIC_TABLE: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.encode("ascii"), value.encode("ascii"))
    for name, _, value in (
        entry.strip().partition("|") for entry in _STATIC.replace("\n", "").split(";")
    )
)
assert len(STATIC_TABLE) == 61
_STATIC_LENGTH = 61
_DEFAULT_TABLE_SIZE = 4096
_ENTRY_OVERHEAD = 32  # RFC 7541 §4.1
# The longest integer accepted: a prefix and five more octets (as hpack).
_MAX_INTEGER_OCTETS = 5
#: How many blocks that changed nothing a decoder remembers, and the largest
#: it remembers (encoded, and decoded as RFC 7541 counts): what a client can
#: make a connection hold in it stays small whatever it sends.
BLOCK_CACHE_SIZE = 32
CACHED_BLOCK_LIMIT = 1024
CACHED_LIST_LIMIT = 4096


class HPACKError(Exception):
    """A header block that cannot be decoded (COMPRESSION_ERROR in RFC 9113
    terms; ``h2`` answers it with PROTOCOL_ERROR, and so do we)."""


class HeaderListTooLarge(HPACKError):
    """The block decodes to more than the decoder's ``max_list_size``."""


def _integer(block: bytes, pos: int, prefix: int) -> tuple[int, int]:
    """The integer whose first octet is ``block[pos]`` (``prefix`` bits of it)
    and the position after it (RFC 7541 §5.1)."""
    limit = (1 << prefix) - 1
    value = block[pos] & limit
    pos += 1
    if value < limit:
        return value, pos
    shift = 0
    count = 0
    size = len(block)
    while True:
        if pos >= size:
            raise HPACKError("truncated integer")
        octet = block[pos]
        pos += 1
        count += 1
        value += (octet & 0x7F) << shift
        if octet < 0x80:
            return value, pos
        if count >= _MAX_INTEGER_OCTETS:
            raise HPACKError("integer representation too long")
        shift += 7


def _string(block: bytes, pos: int) -> tuple[bytes, int]:
    """A string literal at ``pos`` (RFC 7541 §5.2) and the position after it."""
    if pos >= len(block):
        raise HPACKError("truncated string literal")
    huffman = block[pos] & 0x80
    length, pos = _integer(block, pos, 7)
    end = pos + length
    if end > len(block):
        raise HPACKError("truncated string literal")
    raw = block[pos:end]
    if huffman:
        try:
            raw = decode_huffman(raw)
        except HPACKDecodingError as exc:
            raise HPACKError(f"invalid Huffman string: {exc}") from None
    return raw, end


class Decoder:
    """An HPACK decoder for one connection's requests (see the module docstring).

    ``max_list_size`` bounds the decoded header list, counted as RFC 7541
    counts table entries (name + value + 32 per field).
    """

    __slots__ = ("_blocks", "_entries", "_max_size", "_size", "generation", "max_list_size")

    def __init__(self, max_list_size: int) -> None:
        self.max_list_size = max_list_size
        # Dynamic table, oldest first: entry 62 is the last one.
        self._entries: list[tuple[bytes, bytes]] = []
        self._size = 0
        self._max_size = _DEFAULT_TABLE_SIZE
        #: Changes whenever the dynamic table does.
        self.generation = 0
        self._blocks: dict[bytes, tuple[int, tuple[tuple[bytes, bytes], ...]]] = {}

    @property
    def table(self) -> list[tuple[bytes, bytes]]:
        """The dynamic table, newest entry first (a copy)."""
        return self._entries[::-1]

    @property
    def table_size(self) -> int:
        """The dynamic table's maximum size, as the peer last set it."""
        return self._max_size

    def _entry(self, index: int) -> tuple[bytes, bytes]:
        if 0 < index <= _STATIC_LENGTH:
            return STATIC_TABLE[index - 1]
        entries = self._entries
        dynamic = index - _STATIC_LENGTH
        if 0 < dynamic <= len(entries):
            return entries[-dynamic]
        raise HPACKError(f"invalid table index {index}")

    def _add(self, field: tuple[bytes, bytes]) -> None:
        self.generation += 1
        size = _ENTRY_OVERHEAD + len(field[0]) + len(field[1])
        if size > self._max_size:
            self._entries.clear()
            self._size = 0
            return
        self._entries.append(field)
        self._size += size
        self._evict()

    def _evict(self) -> None:
        entries = self._entries
        while self._size > self._max_size:
            name, value = entries.pop(0)
            self._size -= _ENTRY_OVERHEAD + len(name) + len(value)

    def _resize(self, size: int) -> None:
        if size > _DEFAULT_TABLE_SIZE:
            # We never raise SETTINGS_HEADER_TABLE_SIZE above its default.
            raise HPACKError(f"table size update to {size}, over {_DEFAULT_TABLE_SIZE}")
        self.generation += 1
        old = self._max_size
        self._max_size = size
        if size <= 0:
            self._entries.clear()
            self._size = 0
        elif old > size:
            self._evict()

    def decode(self, block: bytes) -> tuple[tuple[bytes, bytes], ...]:
        """The header list of ``block``; :class:`HPACKError` when malformed,
        :class:`HeaderListTooLarge` over ``max_list_size``."""
        known = self._blocks.get(block)
        if known is not None and known[0] == self.generation:
            return known[1]
        generation = self.generation
        fields, size = self._decode(block)
        if (
            self.generation == generation
            and size <= CACHED_LIST_LIMIT
            and len(block) <= CACHED_BLOCK_LIMIT
        ):
            # Nothing in the table changed: the block will decode the same
            # way for as long as the table stays as it is.
            blocks = self._blocks
            if len(blocks) >= BLOCK_CACHE_SIZE:
                blocks.clear()
            blocks[block] = (generation, fields)
        return fields

    def _decode(self, block: bytes) -> tuple[tuple[tuple[bytes, bytes], ...], int]:
        fields: list[tuple[bytes, bytes]] = []
        limit = self.max_list_size
        decoded = 0
        pos = 0
        size = len(block)
        while pos < size:
            octet = block[pos]
            if octet & 0x80:  # indexed field (§6.1)
                if octet != 0xFF:
                    pos += 1
                    index = octet & 0x7F
                else:
                    index, pos = _integer(block, pos, 7)
                if 0 < index <= _STATIC_LENGTH:
                    field = STATIC_TABLE[index - 1]
                else:
                    field = self._entry(index)
            elif octet & 0x40:  # literal with incremental indexing (§6.2.1)
                field, pos = self._literal(block, pos, 6)
                self._add(field)
            elif octet & 0x20:  # dynamic table size update (§6.3)
                if fields:
                    raise HPACKError("table size update after a field")
                new_size, pos = _integer(block, pos, 5)
                self._resize(new_size)
                continue
            else:  # literal without indexing, or never indexed (§6.2.2, §6.2.3)
                field, pos = self._literal(block, pos, 4)
            fields.append(field)
            decoded += _ENTRY_OVERHEAD + len(field[0]) + len(field[1])
            if decoded > limit:
                raise HeaderListTooLarge(f"a header list larger than {limit} bytes")
        return tuple(fields), decoded

    def _literal(self, block: bytes, pos: int, prefix: int) -> tuple[tuple[bytes, bytes], int]:
        if block[pos] & ((1 << prefix) - 1):
            index, pos = _integer(block, pos, prefix)
            name = self._entry(index)[0]
        else:
            name, pos = _string(block, pos + 1)
        value, pos = _string(block, pos)
        return (name, value), pos


# ------------------------------------------------------------------ encoding


def _huffman(data: bytes) -> bytes:
    """``data`` Huffman-coded (RFC 7541 §5.2, Appendix B), padded with ones."""
    bits = 0
    count = 0
    for octet in data:
        length = REQUEST_CODES_LENGTH[octet]
        bits = (bits << length) | REQUEST_CODES[octet]
        count += length
    pad = -count % 8
    bits = (bits << pad) | ((1 << pad) - 1)
    return bits.to_bytes((count + pad) // 8, "big")


def _encode_integer(value: int, prefix: int, first: int) -> bytes:
    limit = (1 << prefix) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _encode_string(data: bytes) -> bytes:
    coded = _huffman(data)
    if len(coded) < len(data):
        return _encode_integer(len(coded), 7, 0x80) + coded
    return _encode_integer(len(data), 7, 0) + data


_STATIC_FIELDS: dict[tuple[bytes, bytes], int] = {}
_STATIC_NAMES: dict[bytes, int] = {}
for _index, _field in enumerate(STATIC_TABLE, 1):
    _STATIC_FIELDS.setdefault(_field, _index)
    _STATIC_NAMES.setdefault(_field[0], _index)
# Fields no intermediary re-encoding them should add to a table (§7.1.3).
_NEVER_INDEXED = frozenset({b"authorization", b"proxy-authorization", b"set-cookie"})


def encode_field(name: bytes, value: bytes) -> bytes:
    """One field, from the static table alone (see the module docstring)."""
    index = _STATIC_FIELDS.get((name, value))
    if index is not None:
        return bytes([0x80 | index])
    first = 0x10 if name in _NEVER_INDEXED else 0x00
    index = _STATIC_NAMES.get(name)
    if index is not None:
        return _encode_integer(index, 4, first) + _encode_string(value)
    return bytes([first]) + _encode_string(name) + _encode_string(value)


#: How many distinct fields, and whole header blocks, an encoder remembers.
FIELD_CACHE_SIZE = 64
HEAD_CACHE_SIZE = 16
_STATUS_FIELDS = {status: encode_field(b":status", b"%d" % status) for status in range(100, 1000)}
# The first block sets the dynamic table to size 0 (§6.3): see the module docstring.
_NO_TABLE = b"\x20"


class Encoder:
    """A static-table HPACK encoder for one connection's responses."""

    __slots__ = ("_blocks", "_fields", "_started")

    def __init__(self) -> None:
        self._started = False
        self._fields: dict[tuple[bytes, bytes], bytes] = {}
        self._blocks: dict[tuple[int, tuple[tuple[bytes, bytes], ...]], bytes] = {}

    def encode(self, status: int, fields: tuple[tuple[bytes, bytes], ...]) -> bytes:
        """A response head: ``:status`` then ``fields`` (lowercase, checked)."""
        key = (status, fields)
        block = self._blocks.get(key)
        if block is None:
            block = _STATUS_FIELDS[status] + self._encode_fields(fields)
            blocks = self._blocks
            if len(blocks) >= HEAD_CACHE_SIZE:
                blocks.clear()
            blocks[key] = block
        if not self._started:
            self._started = True
            return _NO_TABLE + block
        return block

    def encode_trailers(self, fields: Iterable[tuple[bytes, bytes]]) -> bytes:
        """A trailer section (no pseudo-fields)."""
        block = self._encode_fields(fields)
        if not self._started:
            self._started = True
            return _NO_TABLE + block
        return block

    def _encode_fields(self, fields: Iterable[tuple[bytes, bytes]]) -> bytes:
        known = self._fields
        parts = []
        for field in fields:
            encoded = known.get(field)
            if encoded is None:
                encoded = encode_field(*field)
                if len(known) >= FIELD_CACHE_SIZE:
                    known.clear()
                known[field] = encoded
            parts.append(encoded)
        return b"".join(parts)
