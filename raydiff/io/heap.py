"""The process's heap: large blocks go back to the operating system when numpy frees them.

glibc's ``malloc`` serves a block of at least its *mmap threshold* with a mapping of its own, returned to
the system on ``free``; smaller blocks come from the heap, which keeps what is freed for later. The
threshold starts at 128 KiB but rises to the size of each mapped block freed (up to 32 MiB), so after a
few large numpy temporaries are freed the next ones come from the heap, and what they leave behind stays
resident: reading and placing a million-triangle mesh then holds about 100 MB more than it uses.
:func:`return_large_blocks` fixes the threshold, which also stops its rising. It is a no-op where the C
library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util

#: Blocks of this many bytes or more get a mapping of their own (a 1M-triangle mesh's arrays are 4 MB
#: and more; below this size the heap's reuse is worth keeping).
MMAP_THRESHOLD = 1 << 20

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
_done = False


def return_large_blocks() -> bool:
    """Have blocks of :data:`MMAP_THRESHOLD` bytes or more mapped on their own, for the rest of the process.

    Returns
    -------
    bool
        Whether the C library took the setting (False where it is not glibc). Calling again does nothing.
    """
    global _done
    if not _done:
        _done = True
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
        except (OSError, AttributeError):
            _done = False
    return _done
