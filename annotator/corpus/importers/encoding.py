"""Text encodings: a file that is not UTF-8 is refused naming the encoding it looks like,
and imported in the encoding the admin chooses.

Exports from other tools are not always UTF-8 (a Windows-1252 doccano export exists in the
wild). Guessing silently would garble every curly quote and accent of a corpus, so:

* ``Utf8Checked`` sits under the parser in the first pass and checks every byte as UTF-8
  as it streams by (incrementally, so memory stays flat). At the first invalid byte it
  raises ``NotUtf8Error`` with the line, the column and the encoding that
  charset-normalizer finds most likely for the bytes around it.
* ``transcoded(stream, encoding)`` turns a stream in the chosen encoding into UTF-8 for the
  parsers, which all read UTF-8. The choice comes from the import form, the API or
  ``import_threads --encoding``; ``ENCODINGS`` lists the ones offered.
"""

from __future__ import annotations

import codecs
import io
from typing import Any, BinaryIO

from annotator.corpus.importers.records import ImportFileError

# The encodings offered besides UTF-8 (the name Python knows it by, and what people call it).
ENCODINGS: dict[str, str] = {
    "cp1252": "Windows-1252 (Western European, Windows)",
    "latin-1": "ISO-8859-1 (Latin-1)",
    "iso-8859-15": "ISO-8859-15 (Latin-9)",
    "cp1250": "Windows-1250 (Central European)",
    "cp1251": "Windows-1251 (Cyrillic)",
    "mac-roman": "Mac OS Roman",
    "utf-16": "UTF-16 (with a byte-order mark)",
}
GUESS_WINDOW = 64 * 1024  # bytes around the first invalid one that the guess looks at


class NotUtf8Error(ImportFileError):
    """A file that is not UTF-8, with the encoding it most likely is (``found``, or None)."""

    def __init__(self, filename: str, line: int, reason: str, found: str | None):
        super().__init__(filename, line, reason)
        self.found = found


def encoding_name(encoding: str) -> str:
    """What people call ``encoding`` ("Windows-1252 (cp1252)"), for messages."""
    label = ENCODINGS.get(codecs.lookup(encoding).name) or ENCODINGS.get(encoding)
    return f"{label.split(' (')[0]} ({encoding})" if label else encoding


def guess_encoding(sample: bytes) -> str | None:
    """The encoding charset-normalizer finds most likely for ``sample``, or None.

    It often finds several equally likely (the Windows code pages agree on most letters, and
    decode a sample with a few curly quotes and accents alike): then the first of
    ``ENCODINGS`` among them, the most common in exports, is named.
    """
    from charset_normalizer import from_bytes

    matches = list(from_bytes(sample))
    if not matches:
        return None
    best = matches[0]
    # Each match also names the encodings that decode the sample the same way.
    tied = {
        codecs.lookup(encoding).name
        for match in matches
        if (match.chaos, match.coherence) == (best.chaos, best.coherence)
        for encoding in [match.encoding, *match.could_be_from_charset]
    }
    for offered in ENCODINGS:
        if codecs.lookup(offered).name in tied:
            return offered
    return best.encoding


def not_utf8_error(filename: str, data: bytes, at: int, line: int) -> NotUtf8Error:
    """The refusal of a file whose byte ``data[at]`` (on ``line``) is not UTF-8."""
    column = at - (data.rfind(b"\n", 0, at) + 1) + 1
    start = max(0, at - GUESS_WINDOW // 2)
    found = guess_encoding(data[start : start + GUESS_WINDOW])
    reason = f"this is not UTF-8 text (byte 0x{data[at]:02x} at column {column})"
    if found and found != "utf_8":
        reason += (
            f"; it looks like {encoding_name(found)}. Choose that encoding to import it "
            f'(the import form\'s "Encoding", or --encoding {found}), or save it as UTF-8'
        )
    else:
        reason += "; save it as UTF-8, or choose its encoding in the import form (--encoding)"
    return NotUtf8Error(filename, line, reason, found)


class Utf8Checked(io.RawIOBase):
    """A raw reader that passes ``stream``'s bytes through, checking them as UTF-8.

    Raises ``NotUtf8Error`` at the first byte that is not UTF-8 (a character cut short at
    the very end of the file too).
    """

    def __init__(self, stream: BinaryIO, filename: str):
        super().__init__()
        self._stream = stream
        self._filename = filename
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._lines = 0  # newlines before the current chunk
        self._tail = b""  # the end of the previous chunk, for an error at a chunk's start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        count = len(data)
        held = self._decoder.getstate()[0]  # the start of a character cut by the last chunk
        try:
            self._decoder.decode(data, final=not count)
        except UnicodeDecodeError as error:
            # The error's offsets count the held bytes first; a bad sequence holds no
            # newline, so one that began in the last chunk is on its last line.
            offset = max(error.start - len(held), -len(self._tail))
            joined = self._tail + data
            line = self._lines + data[: max(0, offset)].count(b"\n") + 1
            raise not_utf8_error(self._filename, joined, len(self._tail) + offset, line) from None
        self._lines += data.count(b"\n")
        self._tail = data[-GUESS_WINDOW // 2 :]
        buffer[:count] = data
        return count


class _Transcoded(io.RawIOBase):
    """``stream`` read in ``encoding`` and handed on as UTF-8."""

    def __init__(self, stream: BinaryIO, encoding: str):
        super().__init__()
        self._text = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = self._text.read(max(1, len(buffer) // 4))
            if not chunk:
                return 0
            self._pending = chunk.encode("utf-8")
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        self._text.close()
        super().close()


def transcoded(stream: BinaryIO, encoding: str) -> BinaryIO:
    """``stream`` (bytes in ``encoding``) as a buffered stream of UTF-8 bytes."""
    return io.BufferedReader(_Transcoded(stream, encoding), 256 * 1024)


def known_encoding(encoding: str) -> bool:
    """Whether Python can decode ``encoding`` (for checking what a command line names)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        return False
    return True
