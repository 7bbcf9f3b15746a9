"""Whether a large mesh's load uses both cores: the OBJ's faces and the BVH's two subtrees on a second thread.

    python benchmarks/load_threads.py [--triangles 1000000] [--repeats 3]

Writes the cube sphere OBJ of benchmarks/large_mesh.py and, in this process, alternates each threaded step
with the same step on one thread, ``--repeats`` times: ``read_obj_mesh`` with its faces read on a worker
thread (the default for a file over 1 MiB) and on the caller's, and ``build_bvh`` with the root's two
subtrees built at once (the default over 32,768 triangles) and one after the other. Each line gives the wall
and CPU seconds (this process's, all threads: a step that ran on both cores shows more CPU than wall time).
The answers are checked equal both ways. Then, how much of each one-thread step lets the interpreter go
(where a second thread can run): a thread counting in a Python loop meanwhile, its count against its count
while the main thread sleeps.

The threads can only pay on a machine with an idle core: on a loaded one the wall times say nothing, and
the CPU times only that the threads cost no more.
"""

import argparse
import os
import sys
import tempfile
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def timed(work) -> tuple[object, float, float]:
    """``(work(), wall seconds, CPU seconds)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def free_fraction(work) -> float:
    """How fast a counting Python thread runs while ``work()`` runs, against while this thread sleeps as long:
    about the fraction of ``work``'s time that it lets the interpreter go (1: always, 0: never)."""
    def rate(wait) -> float:
        done, count = threading.Event(), [0]

        def spin():
            n = 0
            while not done.is_set():
                n += 1
            count[0] = n

        spinner = threading.Thread(target=spin)
        spinner.start()
        _, wall, _ = timed(wait)
        done.set()
        spinner.join()
        return count[0] / wall

    _, seconds, _ = timed(work)
    return rate(work) / rate(lambda: time.sleep(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triangles", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import large_mesh

    from raydiff.device import meshes
    from raydiff.scene import obj

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "sphere.obj")
        count = large_mesh.write_cube_sphere(path, large_mesh.grid_for(args.triangles))
        mesh = obj.read_obj_mesh(path)
        triangles = np.take(mesh.vertices, mesh.faces, axis=0)
        print(f"a {count}-triangle OBJ ({os.path.getsize(path) / 2**20:.0f} MB); load {os.getloadavg()[0]:.1f}")

        def read(threaded: bool):
            obj._PARALLEL_BYTES = (1 << 20) if threaded else 1 << 62
            return obj.read_obj_mesh(path)

        def build(threaded: bool):
            meshes.PARALLEL_SMALLEST = (1 << 15) if threaded else 1 << 62
            return meshes.build_bvh(triangles)

        steps = [("read_obj_mesh", read, lambda a, b: np.array_equal(a.vertices, b.vertices)
                  and np.array_equal(a.faces, b.faces)),
                 ("build_bvh", build, lambda a, b: all(np.array_equal(getattr(a, k), getattr(b, k))
                                                       for k in ("lower", "upper", "skip", "first", "count", "order")))]
        for name, step, same in steps:
            for _ in range(args.repeats):
                two, wall2, cpu2 = timed(lambda: step(True))
                one, wall1, cpu1 = timed(lambda: step(False))
                print(f"  {name:14s} two threads {wall2:5.2f} s wall {cpu2:5.2f} s CPU; one thread {wall1:5.2f} s "
                      f"wall {cpu1:5.2f} s CPU; same answer: {same(one, two)}")
            print(f"  {name:14s} one thread lets the interpreter go {100 * free_fraction(lambda: step(False)):.0f}% "
                  "of its time")
        print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
