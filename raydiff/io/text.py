"""Decoding an input text file (scene or mesh): UTF-8, with or without a byte-order mark.

Editors on Windows often start a UTF-8 file with a byte-order mark (``EF BB BF``): it is dropped, not read
as part of the first line. A file saved as UTF-16 ("Unicode" in Notepad) is refused with a hint to save it
as UTF-8, rather than with a byte nobody recognises.
"""

from __future__ import annotations

import codecs
from typing import Callable

from ..errors import RaydiffError

_UTF16 = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_utf8(data: bytes, error: Callable[[int, str], RaydiffError]) -> str:
    """``data`` as text: UTF-8, a leading byte-order mark dropped.

    Parameters
    ----------
    data : bytes
        The whole file.
    error : callable
        ``error(line, message)`` makes the error to raise: ``line`` is the 1-based line of the first byte
        that is not UTF-8, ``message`` says what was found and what was expected.

    Returns
    -------
    str

    Raises
    ------
    RaydiffError
        Whatever ``error`` returns, if the bytes are not UTF-8.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        if data.startswith(_UTF16):
            raise error(1, "expected UTF-8 text, got UTF-16 (it starts with a UTF-16 byte-order mark); "
                           "save the file as UTF-8") from None
        raise error(line, f"expected UTF-8 text, got byte {data[err.start]:#04x}") from None
