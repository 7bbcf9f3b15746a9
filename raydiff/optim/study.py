"""Recovery studies: how often, and how well, fits from perturbed starts find a scene's true values.

A study takes a scene whose values are the truth. It renders the reference from them once (at
:func:`reference_spp`, with a seed derived from the study's seed), and then runs ``trials`` fits: trial
``i`` starts from the free parameters perturbed by :func:`raydiff.scene.perturb.perturb` (relative size
``sigma``), drawn from a generator seeded with :func:`trial_seed` (study seed, i), and fits with the default
fit settings (whatever :class:`FitSettings` the caller gives) and that same trial seed. A trial is
therefore determined by its seed: the study gives the same numbers however its trials are spread.

Where the trials run:

* ``workers == 1``: in this process, through one :class:`Fitter`;
* ``workers > 1``: in that many processes of a ``spawn`` context (Taichi and ``fork`` do not mix). Each
  initialises Taichi once and builds ONE :class:`TrialRunner` (one Fitter), and runs its trials through
  :meth:`Fitter.reset`, so kernels compile once per worker and no process gathers SNode trees. Each worker
  has a pipe of its own to the parent, which hands it one trial index at a time and waits on the pipes in
  short slices (:data:`POLL_SECONDS`), so Ctrl-C is seen at once whatever a worker is doing (compiling,
  in the middle of a fit). Workers ignore SIGINT (the parent owns Ctrl-C) and die with the parent
  (``PR_SET_PDEATHSIG`` on Linux); an interrupted or failed study stops them before the exception leaves
  :func:`run_trials`: SIGTERM, then SIGKILL for any still alive after :data:`GRACE_SECONDS`, so winding
  down takes at most about that long. No lock is shared between the processes (``multiprocessing.Pool``
  shares its queues' locks, and a worker killed while holding one, or one that dies in a trial, could
  leave its parent waiting for ever);
* ``ray``: the same runners as Ray actors (:func:`run_on_ray`, one per worker), fed by
  ``ray.util.ActorPool``: Ray is the engine, there is no scheduler here.

Determinism: on the CPU backend every runner initialises Taichi with ``deterministic=True`` (one thread
per process), so results are equal bit for bit between any ``workers``, Ray or not. With one process per
core nothing is lost by it. A GPU backend adds floats in the scheduler's order: the trials then agree to
about 1e-7 relative, and so a trial on the edge of a tolerance could be counted differently.

Nothing here prints; a trial's progress is a callback.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .. import backend
from ..errors import RaydiffError
from ..kernels.render import render_views
from ..scene.limits import MAX_SEED
from ..scene.model import Scene
from ..scene.parameters import resolve_all
from ..scene.perturb import perturb
from .fit import Fitter, FitSettings
from .gradient import derive_seed

#: The sample streams of a study's seed: the reference's, and the first trial's (trial i: + i).
REFERENCE_STREAM = 0x52454600  # "REF"
TRIAL_STREAM = 0x54524900  # "TRI"

#: The reference is rendered with at least this many samples per pixel (the film's, if more).
REFERENCE_SPP = 64

INSTALL_RAY = 'Ray is not installed; install it with: pip install "raydiff[cluster]" (or pip install "ray[default]")'


class StudyError(RaydiffError):
    """A study could not run (a worker could not start, Ray is missing or unreachable): one line."""


def trial_seed(study_seed: int, trial: int) -> int:
    """The seed of trial ``trial`` (its start's generator and its fit's seed): unrelated between trials
    and studies, in [0, MAX_SEED]."""
    return derive_seed(int(study_seed), TRIAL_STREAM + int(trial)) & MAX_SEED


def reference_seed(study_seed: int) -> int:
    """The sample seed of the study's reference render."""
    return derive_seed(int(study_seed), REFERENCE_STREAM) & MAX_SEED


def reference_spp(scene: Scene) -> int:
    """Samples per pixel of the reference: :data:`REFERENCE_SPP`, or the film's if more."""
    return max(REFERENCE_SPP, scene.film.spp)


def render_references(scene: Scene, study_seed: int) -> list[np.ndarray]:
    """The study's references: every view of the true ``scene``, linear RGB (compared unclamped)."""
    backend.current()
    return render_views(scene, spp=reference_spp(scene), seed=reference_seed(study_seed))


def deterministic_for(arch: str) -> bool:
    """Whether a study's runners initialise ``arch`` deterministically (the CPU: yes; see the module)."""
    return arch == "cpu"


@dataclass(frozen=True)
class StudySpec:
    """Everything a runner needs (picklable: it travels to worker processes and Ray actors).

    Parameters
    ----------
    scene : Scene
        The truth; its ``optimize`` section says what is free.
    references : list of np.ndarray
        :func:`render_references` of it.
    settings : FitSettings
        Each trial's settings (its ``seed`` is replaced by the trial's).
    sigma : float
        The perturbation's relative size (:func:`raydiff.scene.perturb.perturb`).
    seed : int
        The study's seed.
    arch : str
        The backend the runners initialise (a name, not ``auto``: the parent's choice).
    """

    scene: Scene
    references: list
    settings: FitSettings
    sigma: float
    seed: int
    arch: str = "cpu"


@dataclass
class Trial:
    """One trial's outcome.

    Attributes
    ----------
    index, seed : int
        The trial and its seed (:func:`trial_seed`).
    start, fitted : dict
        The starting values and the fit's result (its best iterate), keyed by dotted path.
    iterations : int
    seconds : float
        The fit's wall time in its runner (the first trial of each runner includes compiling the kernels);
        the one number that differs between runs.
    final_loss, best_loss : float
    best_iteration, halvings : int
    """

    index: int
    seed: int
    start: dict
    fitted: dict
    iterations: int
    seconds: float
    final_loss: float
    best_loss: float
    best_iteration: int
    halvings: int


def trial_start(spec: StudySpec, index: int, free=None) -> dict[str, np.ndarray]:
    """Trial ``index``'s starting values (a function of the study's seed and the index only)."""
    rng = np.random.default_rng(trial_seed(spec.seed, index))
    return perturb(spec.scene, spec.sigma, rng, free)


class TrialRunner:
    """One Fitter for many trials: Taichi initialised once, kernels compiled once (a worker's state).

    Construction errors are kept and raised by :meth:`run`, as a :class:`StudyError`, so that a worker that
    cannot start fails its trials instead of dying (and being restarted) in a loop.
    """

    def __init__(self, spec: StudySpec):
        self.spec, self.error, self.fitter = spec, None, None
        try:
            backend.init(spec.arch, deterministic=deterministic_for(spec.arch))
            self.free = resolve_all(spec.scene)
            self.fitter = Fitter(spec.scene, spec.references, spec.settings)
        except Exception as err:  # noqa: BLE001 - reported by run(), in the parent
            self.error = f"a worker could not start: {err}"

    def run(self, index: int) -> Trial:
        """Run trial ``index`` (reset, fit) and return its outcome."""
        if self.error is not None:
            raise StudyError(self.error)
        seed = trial_seed(self.spec.seed, index)
        start = trial_start(self.spec, index, self.free)
        fitter = self.fitter
        begin = time.perf_counter()
        fitter.reset(start, seed)
        while not fitter.done:
            fitter.step()
        result = fitter.result(time.perf_counter() - begin)
        return Trial(index=index, seed=seed, start=result.start, fitted=result.values, iterations=result.iterations,
                     seconds=result.seconds, final_loss=result.final_loss, best_loss=result.best_loss,
                     best_iteration=result.best_iteration, halvings=result.halvings)


# --- processes --------------------------------------------------------------------------------------

#: How long the parent waits on its workers' pipes at a time: the longest a Ctrl-C waits to be seen
#: (a signal that Linux hands to another thread of the parent does not wake a wait of the main thread).
POLL_SECONDS = 0.25

#: How long stopped workers get to exit on SIGTERM before they are killed (SIGKILL).
GRACE_SECONDS = 2.0


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (however it dies: no orphans)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's terminate() still ends the workers
        pass


def _serve(spec: StudySpec, conn) -> None:
    """A worker process: one :class:`TrialRunner`, then the trials whose indices come through ``conn``,
    each answered with ``(True, Trial)`` or ``(False, exception)``, until ``None`` (or the parent's end
    of the pipe closes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the parent acts
    _die_with_parent()
    runner = TrialRunner(spec)
    while True:
        try:
            index = conn.recv()
        except EOFError:
            return
        if index is None:
            return
        try:
            answer = (True, runner.run(index))
        except Exception as err:  # noqa: BLE001 - raised again in the parent
            answer = (False, err)
        try:
            conn.send(answer)
        except Exception as err:  # noqa: BLE001 - an exception that does not pickle: its line
            conn.send((False, StudyError(f"trial {index} failed: {type(err).__name__}: {err}")))


def _stop(processes: list, grace: float) -> None:
    """End ``processes``: SIGTERM to those alive, SIGKILL to those still alive ``grace`` seconds later."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (not Linux)
        return os.cpu_count() or 1


def run_trials(spec: StudySpec, trials: int, workers: int = 1,
               on_trial: Callable[[Trial], None] | None = None) -> list[Trial]:
    """Run trials 0 .. ``trials - 1`` in this process (``workers`` 1) or in ``workers`` processes.

    Returns
    -------
    list of Trial
        In trial order, whatever order they finished in (``on_trial`` sees that order).

    Raises
    ------
    StudyError
        If a worker could not start, or stopped before answering.
    """
    if trials < 1 or workers < 1:
        raise ValueError("trials and workers must be at least 1")
    done: list[Trial] = []

    def record(trial: Trial) -> None:
        done.append(trial)
        if on_trial is not None:
            on_trial(trial)

    workers = min(workers, trials)
    if workers == 1:
        runner = TrialRunner(spec)
        for index in range(trials):
            record(runner.run(index))
    else:
        _run_in_processes(spec, trials, workers, record)
    return sorted(done, key=lambda t: t.index)


def _stopped(process) -> StudyError:
    """The error for a worker that is gone before its answer (killed, out of memory, a crash)."""
    process.join(GRACE_SECONDS)
    return StudyError(f"a worker stopped before it finished its trial (exit code {process.exitcode})")


def _hand(conn, process, index: int | None) -> None:
    """Send a worker its next trial index (``None``: no more)."""
    try:
        conn.send(index)
    except OSError:  # its end is closed: it is gone
        raise _stopped(process) from None


def _run_in_processes(spec: StudySpec, trials: int, workers: int, record: Callable[[Trial], None]) -> None:
    """Trials 0 .. ``trials - 1`` in ``workers`` spawned processes (see the module), each handed the next
    index as soon as it answers; every process is gone when this returns or raises."""
    context = multiprocessing.get_context("spawn")
    processes, pipes, busy = [], [], {}  # busy: a worker's pipe -> its process, while it runs a trial
    indices = iter(range(trials))
    try:
        for _ in range(workers):
            ours, theirs = context.Pipe()
            pipes.append(ours)
            process = context.Process(target=_serve, args=(spec, theirs), daemon=True)
            process.start()
            theirs.close()
            processes.append(process)
            _hand(ours, process, next(indices))
            busy[ours] = process
        while busy:
            for conn in multiprocessing.connection.wait(list(busy), timeout=POLL_SECONDS):
                process = busy.pop(conn)
                try:
                    ok, value = conn.recv()
                except (EOFError, OSError):  # its end closed (or reset) before it answered
                    raise _stopped(process) from None
                if not ok:
                    raise value
                record(value)
                index = next(indices, None)
                _hand(conn, process, index)
                if index is not None:
                    busy[conn] = process
        for process in processes:
            process.join(GRACE_SECONDS)  # each was sent None: they are returning
    finally:
        _stop(processes, GRACE_SECONDS)  # an interrupt, an error: no worker outlives the study
        for conn in pipes:
            conn.close()


# --- Ray ----------------------------------------------------------------------------------------------

def ray_available() -> bool:
    """Whether Ray can be imported here."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def run_on_ray(spec: StudySpec, trials: int, address: str, workers: int | None = None,
               on_trial: Callable[[Trial], None] | None = None) -> tuple[list[Trial], int]:
    """Run the trials as Ray actors, one :class:`TrialRunner` each, fed by ``ray.util.ActorPool``.

    Parameters
    ----------
    address : str
        ``"local"``: start a Ray instance on this machine for the study (``workers`` CPUs, no dashboard)
        and stop it after; ``"auto"``: the cluster this machine belongs to (``ray start``'s); otherwise a
        cluster's address (``ray://host:10001`` or ``host:6379``). Connected to a cluster, the study leaves
        it running. A Ray already initialised in this process is used as it is.
    workers : int, optional
        Actors (each holds one CPU); default: every CPU of the cluster.

    Returns
    -------
    trials : list of Trial
        In trial order.
    actors : int
        How many actors ran them.

    Raises
    ------
    StudyError
        If Ray is not installed, cannot connect, or a runner could not start.
    """
    try:
        import ray
        from ray.util import ActorPool
    except ImportError:
        raise StudyError(INSTALL_RAY) from None
    started = False
    if not ray.is_initialized():
        try:
            if address == "local":
                ray.init(num_cpus=workers or default_workers(), include_dashboard=False, log_to_driver=False,
                         configure_logging=False)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
        except Exception as err:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError...
            raise StudyError(f"could not connect to Ray at '{address}': {str(err).splitlines()[0] if str(err) else err}") from None
        started = True
    actors = []
    try:
        n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        Runner = ray.remote(num_cpus=1)(TrialRunner)
        actors = [Runner.remote(spec) for _ in range(min(n, trials))]
        pool = ActorPool(actors)
        done = []
        try:
            for trial in pool.map_unordered(lambda actor, index: actor.run.remote(index), range(trials)):
                done.append(trial)
                if on_trial is not None:
                    on_trial(trial)
        except ray.exceptions.RayTaskError as err:
            cause = getattr(err, "cause", None)
            raise StudyError(str(cause) if cause is not None else str(err).splitlines()[0]) from None
        except ray.exceptions.RayError as err:
            raise StudyError(f"Ray failed: {str(err).splitlines()[0]}") from None
        return sorted(done, key=lambda t: t.index), len(actors)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()


# --- summary ------------------------------------------------------------------------------------------

@dataclass
class Study:
    """A study's trials and their errors against the truth (see :func:`summarise`)."""

    scene: Scene
    sigma: float
    seed: int
    settings: FitSettings
    trials: list[Trial]
    truth: dict
    size: float
    backend: str
    runner: str  # "process" (with ``workers``) or "ray"
    workers: int
    seconds: float = 0.0
    errors: list = field(default_factory=list)  # per trial: {key: accuracy.Error}
    start_errors: list = field(default_factory=list)


def summarise(spec: StudySpec, trials: Sequence[Trial], backend_name: str, runner: str, workers: int,
              seconds: float) -> Study:
    """Each trial's errors (start and fitted) against the truth, by :func:`raydiff.scene.accuracy.errors`."""
    from ..scene import accuracy
    from ..scene.parameters import scene_size

    free = resolve_all(spec.scene)
    truth = {r.path: np.asarray(r.start, dtype=np.float64) for r in free}
    size = scene_size(spec.scene)
    return Study(scene=spec.scene, sigma=spec.sigma, seed=spec.seed, settings=spec.settings, trials=list(trials),
                 truth=truth, size=size, backend=backend_name, runner=runner, workers=workers, seconds=seconds,
                 errors=[accuracy.errors(t.fitted, truth, size) for t in trials],
                 start_errors=[accuracy.errors(t.start, truth, size) for t in trials])
