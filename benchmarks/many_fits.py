"""Fits one after another in one process: what each leaves behind (issue 12, found, not yet fixed).

Every fit builds its scene's Taichi fields anew, and Taichi keeps every field's SNode tree until the
program is reset: a fit of the sphere-over-floor scene adds 13 trees and about 19 MB, and recompiles every
kernel (the new fields are new globals to them). Taichi's LLVM backends hold at most 512 trees per
program, so a process that runs fits in a loop ends in a crash after some dozens (after about fifteen fits
of the larger example scenes in benchmarks/edges.py, which therefore runs one process per example).

Usage::

    python benchmarks/many_fits.py [N]     # N fits (default 25) of 3 iterations at 16x12, CPU backend

prints, per fit: its seconds, the SNode trees the program holds, and the process's peak memory.
"""

import resource
import sys
import time

import numpy as np
import taichi as ti

import raydiff
from common import SPHERE_OVER_FLOOR


def main(n: int) -> None:
    raydiff.init("cpu")
    scene = raydiff.load_scene_string(SPHERE_OVER_FLOOR.format(width=16, height=12, spp=1))
    reference = np.full((12, 16, 3), 0.2, dtype=np.float32)
    print("fit  seconds  snode_trees  peak_MB")
    for i in range(n):
        start = time.perf_counter()
        raydiff.fit(scene, [reference], raydiff.FitSettings(iterations=3))
        trees = ti.lang.impl.get_runtime().prog.get_snode_tree_size()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(f"{i:3d}  {time.perf_counter() - start:7.2f}  {trees:11d}  {peak:7d}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 25)
