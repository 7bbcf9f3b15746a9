"""raydiff/io/heap.py: the mmap threshold is fixed once, and only where the C library is glibc."""

import platform

from raydiff.io import heap


def test_large_blocks_are_returned_on_glibc_and_asking_again_is_free():
    took = heap.return_large_blocks()
    assert took == (platform.libc_ver()[0] == "glibc")
    assert heap.return_large_blocks() == took
