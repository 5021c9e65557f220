"""Compressed files, ZIP archives and folders: what is inside, read as streams.

Dumps come compressed: Reddit's per-subreddit dumps as zstandard with a long window (up to
2 GB, so ``max_window_size=2**31``), others as gzip, and several files (comments and
submissions, a PHEME thread's tweets) in one ZIP archive. ``plan_import`` looks at a file's
first bytes and says what to read: one ``Part`` for a plain or compressed file, one per
file inside an archive, or one ``Part`` holding every member for a format that is a whole
layout of files (PHEME). ``read_parts`` streams the records of the parts in order,
decompressing as it reads (memory flat whatever the size); the loader reads them twice.

The format of each part is the one named, or detected from its own (decompressed) first
bytes and its name without the ``.gz``/``.zst`` suffix. Names of files inside an archive
appear in errors as ``archive.zip/inner/file.json``.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from annotator.corpus.importers import (
    FORMAT_SPECS,
    GZIP,
    ZIP,
    ZSTANDARD,
    compression_of,
    detect_format,
    parse,
    refuse_unsupported,
)
from annotator.corpus.importers.encoding import Utf8Checked, transcoded
from annotator.corpus.importers.records import ImportFileError, Member, Record

ZSTD_MAX_WINDOW = 2**31  # Reddit's dumps are written with a 2 GB window
READ_BUFFER = 256 * 1024
COMPRESSED_SUFFIXES = (".gz", ".gzip", ".zst", ".zstd")

Opener = Callable[[], BinaryIO]
Counter = Callable[[int], None]


def decompressed(stream: BinaryIO, kind: str | None) -> BinaryIO:
    """``stream`` decompressed as it is read (``kind`` from ``compression_of``; None: as is)."""
    if kind == GZIP:
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if kind == ZSTANDARD:
        import zstandard

        decompressor = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        checked = io.BufferedReader(_ZstdFramesChecked(stream), READ_BUFFER)
        return decompressor.stream_reader(checked, read_across_frames=True, closefd=True)
    return stream


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class _ZstdFramesChecked(io.RawIOBase):
    """The compressed bytes passed through, following the zstandard frames in them so that
    a file cut short is refused (``EOFError``) instead of read as shorter.

    python-zstandard's readers end quietly where a cut file ends, which would import part
    of a dump as if it were all of it. The frame format (RFC 8878) says where each frame
    and block ends: this follows the headers and skips the payloads, a few operations per
    block of up to 128 KB.
    """

    def __init__(self, stream: BinaryIO):
        super().__init__()
        self._stream = stream
        self._state = "magic"
        self._wanted = 4  # bytes the next header needs
        self._header = b""
        self._skip = 0  # payload bytes still to pass over
        self._checksum = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        if not data:
            if self._state != "magic" or self._skip or self._header:
                raise EOFError("the file ends in the middle of a zstandard frame")
            return 0
        self._follow(data)
        count = len(data)
        buffer[:count] = data
        return count

    def _follow(self, data: bytes) -> None:
        at, end = 0, len(data)
        while at < end:
            if self._skip:
                step = min(self._skip, end - at)
                self._skip -= step
                at += step
                continue
            step = min(self._wanted - len(self._header), end - at)
            self._header += data[at : at + step]
            at += step
            if len(self._header) == self._wanted:
                header, self._header = self._header, b""
                self._next(header)

    def _next(self, header: bytes) -> None:
        state = self._state
        if state == "magic":
            if header == ZSTD_MAGIC:
                self._state, self._wanted = "descriptor", 1
            elif header[1:] == b"\x2a\x4d\x18" and header[0] & 0xF0 == 0x50:
                self._state, self._wanted = "skippable", 4
            else:
                raise OSError("not a zstandard frame")
        elif state == "skippable":
            self._skip = int.from_bytes(header, "little")
            self._state, self._wanted = "magic", 4
        elif state == "descriptor":
            flags = header[0]
            single_segment = flags >> 5 & 1
            content_size = (1 if single_segment else 0, 2, 4, 8)[flags >> 6]
            dictionary = (0, 1, 2, 4)[flags & 3]
            self._checksum = bool(flags >> 2 & 1)
            rest = (0 if single_segment else 1) + dictionary + content_size
            if rest:
                self._state, self._wanted = "header", rest
            else:
                self._state, self._wanted = "block", 3
        elif state == "header":
            self._state, self._wanted = "block", 3
        elif state == "block":
            value = int.from_bytes(header, "little")
            last, kind, size = value & 1, value >> 1 & 3, value >> 3
            if kind == 3:
                raise OSError("a zstandard block of a reserved type")
            self._skip = 1 if kind == 1 else size
            if last:
                if self._checksum:
                    self._state, self._wanted = "checksum", 4
                else:
                    self._state, self._wanted = "magic", 4
        else:  # checksum
            self._state, self._wanted = "magic", 4

    def close(self) -> None:
        self._stream.close()
        super().close()


def inner_name(filename: str) -> str:
    """The name of what a compressed file holds: ``comments.ndjson.zst`` -> ``comments.ndjson``."""
    lower = filename.lower()
    for suffix in COMPRESSED_SUFFIXES:
        if lower.endswith(suffix):
            return filename[: -len(suffix)]
    return filename


@dataclass(slots=True)
class Part:
    """One stream of records to read: a file, or one file of an archive, or (``members``
    set) every file of an archive for a format that is a layout of files."""

    name: str  # as errors show it
    fmt: str
    member: str | None = None  # the file's name inside the ZIP archive
    compression: str | None = None
    members: list[str] | None = None


def plan_import(
    opener: Opener, filename: str, fmt: str = "auto", *, encoding: str | None = None
) -> list[Part]:
    """What to read in the file that ``opener`` opens, and in which format each part is.

    Raises ``ImportFileError`` for what cannot be imported: no thread at all, an archive
    with nothing to import in it, a damaged or encrypted archive.
    """
    with opener() as stream:
        head = stream.read(HEAD_BYTES)
    kind = compression_of(head)
    if kind == ZIP:
        return _plan_zip(opener, filename, fmt, encoding)
    if kind is not None:
        with _reading(filename, kind), opener() as raw, decompressed(raw, kind) as stream:
            head = _read_head(stream)
        name = inner_name(filename)
        refuse_unsupported(head, filename, encoding=encoding)
        if compression_of(head) is not None:
            raise ImportFileError(
                filename, None, f"a {kind} file holding another compressed file: unpack it once"
            )
        return [Part(filename, _format_of(head, name, fmt, encoding), compression=kind)]
    refuse_unsupported(head, filename, encoding=encoding)
    return [Part(filename, _format_of(head, filename, fmt, encoding))]


def plan_members(members: Sequence[Member], filename: str, fmt: str = "auto") -> str | None:
    """The archive format that takes ``members`` as a whole (PHEME), or None."""
    if fmt != "auto":
        spec = FORMAT_SPECS.get(fmt)
        return fmt if spec is not None and spec.archive else None
    names = [member.name for member in members]
    for spec in FORMAT_SPECS.values():
        if spec.archive and spec.recognises_members(names):
            return spec.name
    return None


def _plan_zip(opener: Opener, filename: str, fmt: str, encoding: str | None) -> list[Part]:
    with _reading(filename, ZIP), opener() as raw, zipfile.ZipFile(raw) as archive:
        return _plan_members(zip_members(archive), filename, fmt, encoding)


def plan_folder(folder: Path, fmt: str = "auto", *, encoding: str | None = None) -> list[Part]:
    """``plan_import`` for a folder (``import_threads`` given a directory)."""
    with folder_members(folder) as members:
        return _plan_members(members, folder.name, fmt, encoding)


def zip_members(archive: zipfile.ZipFile) -> list[Member]:
    """The files of a ZIP archive worth importing, each opened from ``archive``."""
    return [
        Member(info.filename, _opener(archive, info), info.file_size)
        for info in archive.infolist()
        if not info.is_dir() and _importable(info.filename)
    ]


@contextlib.contextmanager
def folder_members(folder: Path) -> Iterator[list[Member]]:
    """The files under ``folder`` worth importing, named by their path below it."""
    members = [
        Member(path.relative_to(folder).as_posix(), _file_opener(path), path.stat().st_size)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and _importable(path.relative_to(folder).as_posix())
    ]
    yield members


def _file_opener(path: Path) -> Opener:
    return lambda: open(path, "rb")


def _plan_members(
    members: Sequence[Member], filename: str, fmt: str, encoding: str | None
) -> list[Part]:
    if not members:
        raise ImportFileError(filename, None, "there are no files to import in it")
    whole = plan_members(members, filename, fmt)
    if whole is not None:
        return [Part(filename, whole, members=[member.name for member in members])]
    parts = []
    for member in sorted(members, key=lambda member: member.name):
        name = f"{filename}/{member.name}"
        with member.open() as stream:
            head = stream.read(HEAD_BYTES)
        kind = compression_of(head)
        if kind == ZIP:
            raise ImportFileError(name, None, "a ZIP archive inside an archive: unpack it once")
        if kind is not None:
            with _reading(name, kind), decompressed(member.open(), kind) as inner:
                head = _read_head(inner)
        refuse_unsupported(head, name, encoding=encoding)
        member_fmt = _format_of(head, inner_name(member.name), fmt, encoding)
        parts.append(Part(name, member_fmt, member.name, kind))
    return parts


def _importable(name: str) -> bool:
    """Not the clutter that macOS and editors leave in archives (dot files, __MACOSX)."""
    parts = Path(name).parts
    return not any(part.startswith(".") or part == "__MACOSX" for part in parts)


def _format_of(head: bytes, name: str, fmt: str, encoding: str | None) -> str:
    if fmt != "auto":
        return fmt
    return detect_format(head, name, encoding=encoding)


def _read_head(stream: BinaryIO) -> bytes:
    """Up to ``HEAD_BYTES`` of a decompressing stream (whose reads may return less)."""
    chunks = []
    size = 0
    while size < HEAD_BYTES:
        chunk = stream.read(HEAD_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


HEAD_BYTES = 64 * 1024


@contextlib.contextmanager
def _reading(name: str, kind: str) -> Iterator[None]:
    """Turn the errors of damaged, cut-short or encrypted compressed data into refusals."""
    try:
        yield
    except ImportFileError:
        raise
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as error:
        raise ImportFileError(
            name, None, f"the {kind} data is damaged or cut short ({error})"
        ) from None
    except NotImplementedError as error:
        raise ImportFileError(name, None, f"this {kind} archive cannot be read: {error}") from None
    except RuntimeError as error:  # zipfile: "File ... is encrypted, password required"
        raise ImportFileError(name, None, f"this {kind} archive cannot be read: {error}") from None
    except Exception as error:
        if type(error).__name__ == "ZstdError":
            raise ImportFileError(
                name, None, f"the {kind} data is damaged or cut short ({error})"
            ) from None
        raise


def read_parts(
    opener: Opener,
    parts: Sequence[Part],
    *,
    count: Counter,
    options: dict | None = None,
    check_utf8: bool = False,
    members_of: Callable[[], contextlib.AbstractContextManager[list[Member]]] | None = None,
) -> Iterator[Record]:
    """The records of ``parts`` in order, each part decompressed and parsed as it streams.

    ``count(n)`` is told how many bytes of the raw file were read (progress). With
    ``check_utf8`` (the first pass) every byte is checked as UTF-8 under the parser, unless
    ``options["encoding"]`` names the encoding to read instead. ``members_of`` gives the
    members of a folder (``import_threads`` on a directory) instead of a ZIP archive.
    """
    options = options or {}
    encoding = options.get("encoding") or None
    if parts and (parts[0].member is not None or parts[0].members is not None):
        with contextlib.ExitStack() as stack:
            if members_of is not None:
                members = [
                    Member(member.name, _counted(member.open, count), member.size)
                    for member in stack.enter_context(members_of())
                ]
            else:
                raw = stack.enter_context(opener())
                archive = stack.enter_context(zipfile.ZipFile(_Counted(raw, count)))
                members = zip_members(archive)
            by_name = {member.name: member for member in members}
            for part in parts:
                if part.members is not None:
                    chosen = [by_name[name] for name in part.members]
                    with _reading(part.name, ZIP):
                        yield from FORMAT_SPECS[part.fmt].function()(chosen, part.name)
                    continue
                yield from _read_part(
                    by_name[part.member].open, part, encoding, check_utf8, options
                )
        return
    for part in parts:
        yield from _read_part(
            lambda: _Counted(opener(), count), part, encoding, check_utf8, options
        )


def _counted(open_member: Opener, count: Counter) -> Opener:
    return lambda: _Counted(open_member(), count)


def _opener(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Opener:
    return lambda: archive.open(info)


def _read_part(
    open_raw: Opener, part: Part, encoding: str | None, check_utf8: bool, options: dict
) -> Iterator[Record]:
    with _reading(part.name, part.compression or ZIP), contextlib.ExitStack() as stack:
        stream: Any = stack.enter_context(decompressed(open_raw(), part.compression))
        if encoding is not None:
            stream = transcoded(stream, encoding)
        elif check_utf8:
            stream = Utf8Checked(stream, part.name)
        reader = io.BufferedReader(stream, READ_BUFFER)
        yield from parse(reader, part.fmt, part.name, options)


class _Counted(io.RawIOBase):
    """A raw reader that reports every byte read from the wrapped file (for progress);
    seekable when the file is (a ZIP archive is read by seeking)."""

    def __init__(self, stream: BinaryIO, on_read: Counter):
        super().__init__()
        self._stream = stream
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._stream.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()

    def readinto(self, buffer: Any) -> int:
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            count = readinto(buffer) or 0
        else:
            data = self._stream.read(len(buffer))
            count = len(data)
            buffer[:count] = data
        if count:
            self._on_read(count)
        return count

    def close(self) -> None:
        self._stream.close()
        super().close()
