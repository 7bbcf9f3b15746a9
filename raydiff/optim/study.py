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
  :meth:`Fitter.reset`, so kernels compile once per worker and no process gathers SNode trees. Workers
  ignore SIGINT (the parent owns Ctrl-C) and die with the parent (``PR_SET_PDEATHSIG`` on Linux); an
  interrupted or failed study terminates them before the exception leaves :func:`run_trials`;
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

_runner: TrialRunner | None = None


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (however it dies: no orphans)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's terminate() still ends the workers
        pass


def _start_worker(spec: StudySpec) -> None:
    global _runner
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the parent acts
    _die_with_parent()
    _runner = TrialRunner(spec)


def _run_in_worker(index: int) -> Trial:
    return _runner.run(index)


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
        If a worker could not start.
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
        context = multiprocessing.get_context("spawn")
        pool = context.Pool(workers, initializer=_start_worker, initargs=(spec,))
        try:
            for trial in pool.imap_unordered(_run_in_worker, range(trials)):
                record(trial)
            pool.close()
        finally:
            pool.terminate()  # an interrupt, an error: no worker outlives the study
            pool.join()
    return sorted(done, key=lambda t: t.index)


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
