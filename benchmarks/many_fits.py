"""Fits one after another in one process: what each leaves behind (issue 12, found, not yet fixed).

Every fit builds its scene's Taichi fields anew, and Taichi keeps every field's SNode tree until the
program is reset: a fit of the sphere-over-floor scene adds 13 trees and about 19 MB, and recompiles every
kernel (the new fields are new globals to them). Taichi's LLVM backends hold at most 512 trees per
program, so a process that runs fits in a loop ends in a crash after some dozens (after about fifteen fits
of the larger example scenes in benchmarks/edges.py, which therefore runs one process per example).

Usage::

    python benchmarks/many_fits.py [N]           # N fits (default 25) of 3 iterations at 16x12, CPU backend
    python benchmarks/many_fits.py [N] --reset   # the same N fits through ONE Fitter and Fitter.reset

prints, per fit: its seconds, the SNode trees the program holds, and the process's peak memory. With
``--reset`` (what ``raydiff recover``'s workers do) the trees and the memory stay where the first fit left
them, and only the first fit compiles.
"""

import resource
import sys
import time

import numpy as np
import taichi as ti

import raydiff
from raydiff.optim.fit import Fitter
from common import SPHERE_OVER_FLOOR


def main(n: int, reset: bool = False) -> None:
    raydiff.init("cpu")
    scene = raydiff.load_scene_string(SPHERE_OVER_FLOOR.format(width=16, height=12, spp=1))
    reference = np.full((12, 16, 3), 0.2, dtype=np.float32)
    settings = raydiff.FitSettings(iterations=3)
    fitter = None
    print("fit  seconds  snode_trees  peak_MB")
    for i in range(n):
        start = time.perf_counter()
        if not reset:
            raydiff.fit(scene, [reference], settings)
        else:
            if fitter is None:
                fitter = Fitter(scene, [reference], settings)
            else:
                fitter.reset({}, seed=i)
            while not fitter.done:
                fitter.step()
            fitter.result()
        trees = ti.lang.impl.get_runtime().prog.get_snode_tree_size()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(f"{i:3d}  {time.perf_counter() - start:7.2f}  {trees:11d}  {peak:7d}", flush=True)


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(numbers[0]) if numbers else 25, reset="--reset" in sys.argv[1:])
