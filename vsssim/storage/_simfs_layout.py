"""simfs on-disk structures: constants and the codecs of every metadata block.

Each structure is checksummed (CRC-32) so that a torn or corrupted metadata block is detected
instead of being served: decoding raises :class:`~vsssim.errors.VssStoreCorruptError` naming the
structure and its location.  The layout itself is described in :mod:`vsssim.storage.simfs`.
Nothing here touches a device: callers read and write the bytes.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from vsssim.errors import VssStoreCorruptError

__all__ = [
    "BITMAP_HEADER",
    "BITS_PER_BITMAP_BLOCK",
    "BLOCK_SIZE",
    "BMAP_MAGIC",
    "CRC_FIELD",
    "DIR_HEADER",
    "DIR_MAGIC",
    "EXTENTS_PER_BLOCK",
    "EXT_MAGIC",
    "IMAP_MAGIC",
    "INLINE_EXTENTS",
    "INODES_PER_BLOCK",
    "INODE_SIZE",
    "KIND_DIR",
    "KIND_FILE",
    "MAGIC",
    "MAX_LABEL",
    "ROOT_INO",
    "SB_SIZE",
    "VERSION",
    "DirBlock",
    "Inode",
    "Superblock",
    "decode_bitmap_block",
    "decode_dir_block",
    "decode_dir_entries",
    "decode_ext_block",
    "encode_bitmap_block",
    "encode_dir_block",
    "encode_ext_block",
    "entry_size",
]

#: File-system block size, independent of the device's 16 KiB copy-on-write block: small files
#: and metadata updates then touch (and make the engine copy) as little as possible.
BLOCK_SIZE = 4096
MAGIC = b"VSSIMFS\x00"
VERSION = 1
ROOT_INO = 1
KIND_FILE = 1
KIND_DIR = 2
MAX_LABEL = 32  # NTFS volume labels hold at most 32 characters

# Superblock: fixed fields, then the CRC-32 of those fields.
_SB = struct.Struct("<8sIIQ8IQIIQqH128s")
_SB_CRC = struct.Struct("<I")
SB_SIZE = _SB.size + _SB_CRC.size

# Bitmap block: magic, crc, index of this block within its bitmap, padding; then the bits
# (little-endian bit order: bit i of byte j is item 8*j + i).
BITMAP_HEADER = 16
BITS_PER_BITMAP_BLOCK = (BLOCK_SIZE - BITMAP_HEADER) * 8
_BM_HEAD = struct.Struct("<4sIII")
_BM_AFTER_CRC = struct.Struct("<II")  # the header after its CRC field: index, reserved
_BM_PAD = bytes(BLOCK_SIZE - BITMAP_HEADER)
BMAP_MAGIC = b"SBMP"
IMAP_MAGIC = b"SIMP"

# Inode: 64-byte header then INLINE_EXTENTS extents of (first block, block count).  Extents past
# the inline ones live in a chain of extent blocks owned by the inode.
INODE_SIZE = 256
INODES_PER_BLOCK = BLOCK_SIZE // INODE_SIZE
_INODE = struct.Struct("<IBBHIIQqqqdII")
INLINE_EXTENTS = (INODE_SIZE - _INODE.size) // 8
_EXTENT = struct.Struct("<II")
_CRC_FIELD = CRC_FIELD = struct.Struct("<I")  # a 4-byte checksum field
# For encoding: the whole record after its CRC field (header fields, ``k`` inline extents, zero
# padding), one struct per inline extent count ``k``, so that an inode is one ``pack`` call.
_INODE_AFTER_CRC = [
    struct.Struct("<BBHIIQqqqdII" + "II" * k + f"{INODE_SIZE - _INODE.size - _EXTENT.size * k}x")
    for k in range(INLINE_EXTENTS + 1)
]

EXT_MAGIC = b"SEXT"
_EXT_HEAD = struct.Struct("<4sIIII4x")
EXTENTS_PER_BLOCK = (BLOCK_SIZE - _EXT_HEAD.size) // 8

# Directory block: header, then packed entries (inode, UTF-8 name length, name).
DIR_MAGIC = b"SDIR"
_DIR_HEAD = struct.Struct("<4sIIHH")
DIR_HEADER = _DIR_HEAD.size
_DIR_AFTER_CRC = struct.Struct("<IHH")  # the header after its CRC field: owner, count, used
_DIR_PAD = bytes(BLOCK_SIZE - DIR_HEADER)
_DIR_ENTRY = struct.Struct("<IH")


# The CRC-32 of each block magic: a block's checksum covers its (already verified) magic and
# then everything after the CRC field, so checking one is one crc32 call seeded with this.
class _MagicCrcs(dict[bytes, int]):
    """The known magics' CRCs, computed once; any other magic's computed when asked."""

    def __missing__(self, magic: bytes) -> int:
        return zlib.crc32(magic)


_MAGIC_CRC = _MagicCrcs(
    (magic, zlib.crc32(magic)) for magic in (BMAP_MAGIC, IMAP_MAGIC, EXT_MAGIC, DIR_MAGIC))


def _block_crc(raw: bytes, magic: bytes) -> int:
    """``_crc(raw, 4)`` of a block whose magic is ``magic`` (already verified)."""
    return zlib.crc32(memoryview(raw)[8:], _MAGIC_CRC[magic])


def _crc(block: bytes | bytearray | memoryview, crc_at: int, seed: int = 0) -> int:
    """CRC-32 of ``block`` with its 4-byte checksum field (at ``crc_at``) left out."""
    view = memoryview(block)
    return zlib.crc32(view[crc_at + 4 :], zlib.crc32(view[:crc_at], seed))


def _corrupt(what: str, detail: str) -> VssStoreCorruptError:
    return VssStoreCorruptError(f"simfs: {what} is corrupt: {detail}")


@dataclass(slots=True)
class Superblock:
    """Block 0: geometry, counters and label.  ``free_*`` are kept equal to the bitmaps."""

    total_blocks: int
    bmap_start: int
    bmap_blocks: int
    imap_start: int
    imap_blocks: int
    itable_start: int
    itable_blocks: int
    inode_count: int
    data_start: int
    free_blocks: int
    free_inodes: int
    next_generation: int
    created: int
    label: str
    root_ino: int = ROOT_INO
    block_size: int = BLOCK_SIZE
    version: int = VERSION

    def encode(self) -> bytes:
        """The superblock's bytes (fields then CRC)."""
        label = self.label.encode("utf-8", "surrogatepass")
        body = _SB.pack(
            MAGIC,
            self.version,
            self.block_size,
            self.total_blocks,
            self.bmap_start,
            self.bmap_blocks,
            self.imap_start,
            self.imap_blocks,
            self.itable_start,
            self.itable_blocks,
            self.inode_count,
            self.data_start,
            self.free_blocks,
            self.free_inodes,
            self.root_ino,
            self.next_generation,
            self.created,
            len(label),
            label,
        )
        return body + _SB_CRC.pack(zlib.crc32(body))

    @classmethod
    def decode(cls, raw: bytes) -> Superblock:
        """Parse and verify; the caller has already checked :data:`MAGIC`."""
        body = raw[: _SB.size]
        (crc,) = _SB_CRC.unpack_from(raw, _SB.size)
        if zlib.crc32(body) != crc:
            raise _corrupt("the superblock", "checksum mismatch")
        f = _SB.unpack(body)
        if f[1] != VERSION:
            raise _corrupt("the superblock", f"unsupported simfs version {f[1]}")
        if f[2] != BLOCK_SIZE:
            raise _corrupt("the superblock", f"unsupported block size {f[2]}")
        if f[17] > len(f[18]):
            raise _corrupt("the superblock", "label length out of range")
        sb = cls(
            version=f[1],
            block_size=f[2],
            total_blocks=f[3],
            bmap_start=f[4],
            bmap_blocks=f[5],
            imap_start=f[6],
            imap_blocks=f[7],
            itable_start=f[8],
            itable_blocks=f[9],
            inode_count=f[10],
            data_start=f[11],
            free_blocks=f[12],
            free_inodes=f[13],
            root_ino=f[14],
            next_generation=f[15],
            created=f[16],
            label=f[18][: f[17]].decode("utf-8", "surrogatepass"),
        )
        problem = sb.geometry_problem()
        if problem:
            raise _corrupt("the superblock", problem)
        return sb

    def geometry_problem(self) -> str:
        """Why the recorded layout is impossible, or ``""``."""
        if self.root_ino != ROOT_INO:
            return f"root inode {self.root_ino} (expected {ROOT_INO})"
        if self.bmap_start != 1 or self.bmap_blocks != _blocks_for(self.total_blocks):
            return "block bitmap placement does not match the volume size"
        if self.imap_start != self.bmap_start + self.bmap_blocks or self.imap_blocks != (
            _blocks_for(self.inode_count + 1)
        ):
            return "inode bitmap placement does not match the inode count"
        if self.itable_start != self.imap_start + self.imap_blocks or self.itable_blocks != (
            -(-self.inode_count // INODES_PER_BLOCK)
        ):
            return "inode table placement does not match the inode count"
        if self.data_start != self.itable_start + self.itable_blocks:
            return "data area does not follow the inode table"
        if self.data_start >= self.total_blocks:
            return "no room for data"
        if self.free_blocks > self.total_blocks - self.data_start:
            return "free block count exceeds the data area"
        if self.free_inodes >= self.inode_count:
            return "free inode count exceeds the inode table"
        return ""

    @classmethod
    def layout(cls, total_blocks: int, inode_count: int, *, created: int, label: str) -> Superblock:
        """The superblock of a freshly formatted volume of ``total_blocks`` blocks."""
        bmap_blocks = _blocks_for(total_blocks)
        imap_blocks = _blocks_for(inode_count + 1)
        itable_blocks = -(-inode_count // INODES_PER_BLOCK)
        data_start = 1 + bmap_blocks + imap_blocks + itable_blocks
        return cls(
            total_blocks=total_blocks,
            bmap_start=1,
            bmap_blocks=bmap_blocks,
            imap_start=1 + bmap_blocks,
            imap_blocks=imap_blocks,
            itable_start=1 + bmap_blocks + imap_blocks,
            itable_blocks=itable_blocks,
            inode_count=inode_count,
            data_start=data_start,
            free_blocks=total_blocks - data_start,
            free_inodes=inode_count - 1,
            next_generation=2,
            created=created,
            label=label,
        )


def _blocks_for(nbits: int) -> int:
    return -(-nbits // BITS_PER_BITMAP_BLOCK)


def encode_bitmap_block(magic: bytes, index: int, bits: bytes) -> bytes:
    """A bitmap block holding ``bits`` (packed, at most 4080 bytes) with its header and CRC."""
    # Built by concatenation: the CRC field (bytes 4..8) covers the magic before it and
    # everything after it, as _crc(block, 4) computes.
    tail = _BM_AFTER_CRC.pack(index, 0) + bits + _BM_PAD[: BLOCK_SIZE - BITMAP_HEADER - len(bits)]
    return magic + _CRC_FIELD.pack(zlib.crc32(tail, _MAGIC_CRC[magic])) + tail


def decode_bitmap_block(raw: bytes, magic: bytes, index: int, where: str) -> bytes:
    """The packed bits of a bitmap block, after checking magic, index and CRC."""
    got_magic, crc, got_index, _ = _BM_HEAD.unpack_from(raw, 0)
    if got_magic != magic:
        raise _corrupt(where, f"bad magic {got_magic!r}")
    if _block_crc(raw, magic) != crc:
        raise _corrupt(where, "checksum mismatch")
    if got_index != index:
        raise _corrupt(where, f"holds bitmap block {got_index}, expected {index}")
    return raw[BITMAP_HEADER:BLOCK_SIZE]


@dataclass(slots=True)
class Inode:
    """One file or directory record.  ``extents`` is the full list (inline and chained);
    ``chain`` the blocks of the extent chain, in order (empty while the extents fit inline).
    Times are FILETIMEs (100 ns since 1601 UTC); ``mtime`` is the clock's seconds.
    """

    ino: int
    kind: int
    generation: int
    parent: int
    size: int = 0
    created: int = 0
    modified: int = 0
    accessed: int = 0
    mtime: float = 0.0
    nlink: int = 1
    extents: list[tuple[int, int]] = field(default_factory=list)
    chain: list[int] = field(default_factory=list)
    # Logical first block of each extent, for bisecting; rebuilt when the extents change.
    starts: list[int] = field(default_factory=list)
    nblocks: int = 0

    def reindex(self) -> None:
        """Recompute :attr:`starts` and :attr:`nblocks` after :attr:`extents` changed."""
        starts: list[int] = []
        total = 0
        for _, length in self.extents:
            starts.append(total)
            total += length
        self.starts = starts
        self.nblocks = total

    def encode(self) -> bytes:
        """The 256-byte inode record (its CRC is seeded with the inode number, so a record
        written into the wrong slot is detected)."""
        extents = self.extents
        count = len(extents)
        # Most files are one extent: its pair is the flat list of inline extents as it is.
        if count == 1:
            flat: Iterable[int] = extents[0]
        else:
            flat = itertools.chain.from_iterable(extents[:INLINE_EXTENTS])
        body = _INODE_AFTER_CRC[count if count <= INLINE_EXTENTS else INLINE_EXTENTS].pack(
            self.kind,
            0,
            self.nlink,
            self.generation,
            self.parent,
            self.size,
            self.created,
            self.modified,
            self.accessed,
            self.mtime,
            count,
            self.chain[0] if self.chain else 0,
            *flat,
        )
        # The CRC field comes first, so the checksum covers exactly ``body`` (see _crc).
        return _CRC_FIELD.pack(zlib.crc32(body, self.ino)) + body

    @classmethod
    def decode(cls, raw: bytes, ino: int) -> tuple[Inode, int, int]:
        """Parse an inode record: ``(inode, extent count, first chain block)``.  The caller
        reads the chain and appends its extents."""
        f = _INODE.unpack_from(raw, 0)
        if zlib.crc32(memoryview(raw)[4:], ino) != f[0]:  # _crc(raw, 0, ino)
            raise _corrupt(f"inode {ino}", "checksum mismatch")
        if f[1] not in (KIND_FILE, KIND_DIR):
            raise _corrupt(f"inode {ino}", f"unknown kind {f[1]}")
        count = f[11]
        inline = count if count < INLINE_EXTENTS else INLINE_EXTENTS
        extents = list(_EXTENT.iter_unpack(raw[_INODE.size : _INODE.size + 8 * inline]))
        node = cls(
            ino=ino,
            kind=f[1],
            nlink=f[3],
            generation=f[4],
            parent=f[5],
            size=f[6],
            created=f[7],
            modified=f[8],
            accessed=f[9],
            mtime=f[10],
            extents=extents,
        )
        return node, count, f[12]


def encode_ext_block(owner: int, extents: list[tuple[int, int]], next_block: int) -> bytes:
    """An extent-chain block: up to :data:`EXTENTS_PER_BLOCK` extents of inode ``owner``."""
    block = bytearray(BLOCK_SIZE)
    _EXT_HEAD.pack_into(block, 0, EXT_MAGIC, 0, owner, len(extents), next_block)
    off = _EXT_HEAD.size
    for start, length in extents:
        _EXTENT.pack_into(block, off, start, length)
        off += 8
    struct.pack_into("<I", block, 4, _crc(block, 4))
    return bytes(block)


def decode_ext_block(raw: bytes, owner: int, where: str) -> tuple[list[tuple[int, int]], int]:
    """``(extents, next block)`` of an extent-chain block, after checking it."""
    magic, crc, got_owner, count, next_block = _EXT_HEAD.unpack_from(raw, 0)
    if magic != EXT_MAGIC:
        raise _corrupt(where, f"bad magic {magic!r}")
    if _block_crc(raw, magic) != crc:
        raise _corrupt(where, "checksum mismatch")
    if got_owner != owner:
        raise _corrupt(where, f"belongs to inode {got_owner}, not {owner}")
    if count > EXTENTS_PER_BLOCK:
        raise _corrupt(where, f"extent count {count} out of range")
    base = _EXT_HEAD.size
    return [_EXTENT.unpack_from(raw, base + 8 * i) for i in range(count)], next_block


def entry_size(encoded_name: bytes) -> int:
    """Bytes a directory entry with this (UTF-8) name takes in a directory block."""
    return _DIR_ENTRY.size + len(encoded_name)


@dataclass(slots=True)
class DirBlock:
    """One directory block in memory: its entries (upcased key -> (stored name, inode)) in
    on-disk order, and the bytes they take.

    The packed entry area is kept alongside while entries are only appended (files being
    created, the common case), so adding an entry to a full block does not re-encode the
    block's 250 other names; a removal or a respelling drops it, to be rebuilt on demand.
    """

    entries: dict[str, tuple[str, int]] = field(default_factory=dict)
    used: int = 0
    packed: bytearray | None = None

    @property
    def room(self) -> int:
        """Bytes still free for entries."""
        return BLOCK_SIZE - DIR_HEADER - self.used

    def add(self, key: str, name: str, ino: int, raw: bytes | None = None) -> None:
        """Append an entry (``key`` must be new; ``raw``, if given, is ``name`` encoded)."""
        if raw is None:
            raw = name.encode("utf-8", "surrogatepass")
        self.entries[key] = (name, ino)
        self.used += _DIR_ENTRY.size + len(raw)
        if self.packed is not None:
            self.packed += _DIR_ENTRY.pack(ino, len(raw))
            self.packed += raw

    def remove(self, key: str) -> tuple[str, int]:
        """Remove and return the entry ``key``."""
        name, ino = self.entries.pop(key)
        self.used -= _DIR_ENTRY.size + len(name.encode("utf-8", "surrogatepass"))
        self.packed = None
        return name, ino

    def respell(self, key: str, name: str) -> None:
        """Change the stored spelling of entry ``key`` in place (same position)."""
        old, ino = self.entries[key]
        self.used += len(name.encode("utf-8", "surrogatepass")) - len(
            old.encode("utf-8", "surrogatepass")
        )
        self.entries[key] = (name, ino)
        self.packed = None

    def body(self) -> bytes | bytearray:
        """The packed entry area."""
        if self.packed is None:
            packed = bytearray()
            for name, ino in self.entries.values():
                raw = name.encode("utf-8", "surrogatepass")
                packed += _DIR_ENTRY.pack(ino, len(raw))
                packed += raw
            self.packed = packed
        return self.packed


def encode_dir_block(owner: int, block: DirBlock) -> bytes:
    """The on-disk image of a directory block of directory ``owner``."""
    body = block.body()
    used = len(body)
    # Concatenated like encode_bitmap_block: the CRC covers the magic and all after the field.
    tail = _DIR_AFTER_CRC.pack(owner, len(block.entries), used) + body
    tail += _DIR_PAD[: BLOCK_SIZE - DIR_HEADER - used]
    return DIR_MAGIC + _CRC_FIELD.pack(zlib.crc32(tail, _MAGIC_CRC[DIR_MAGIC])) + tail


def decode_dir_block(raw: bytes, owner: int, where: str) -> list[tuple[str, int]]:
    """The ``(name, inode)`` entries of a directory block, in order, after checking it."""
    return decode_dir_entries(raw, owner, where)[0]


def decode_dir_entries(raw: bytes, owner: int, where: str) -> tuple[list[tuple[str, int]], int]:
    """:func:`decode_dir_block`, and the bytes the entries take (``DirBlock.used``)."""
    magic, crc, got_owner, count, used = _DIR_HEAD.unpack_from(raw, 0)
    if magic != DIR_MAGIC:
        raise _corrupt(where, f"bad magic {magic!r}")
    if _block_crc(raw, magic) != crc:
        raise _corrupt(where, "checksum mismatch")
    if got_owner != owner:
        raise _corrupt(where, f"belongs to directory inode {got_owner}, not {owner}")
    if used > BLOCK_SIZE - DIR_HEADER:
        raise _corrupt(where, "entry area overflows the block")
    out: list[tuple[str, int]] = []
    off = DIR_HEADER
    end = DIR_HEADER + used
    for _ in range(count):
        if off + _DIR_ENTRY.size > end:
            raise _corrupt(where, "entry overruns the entry area")
        ino, length = _DIR_ENTRY.unpack_from(raw, off)
        off += _DIR_ENTRY.size
        if off + length > end:
            raise _corrupt(where, "name overruns the entry area")
        try:
            name = raw[off : off + length].decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise _corrupt(where, "name is not valid UTF-8") from None
        off += length
        out.append((name, ino))
    if off != end:
        raise _corrupt(where, "entry count does not match the entry area")
    return out, used
