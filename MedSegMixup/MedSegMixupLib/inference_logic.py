"""One ensemble inference from request to imported result, with progress and cancel (S1, B8).

:class:`InferenceLogic` owns the run: it writes the job's inputs, starts ``medsegtrain predict``
through a process runner, turns the runner's JSON events into progress callbacks, and imports
the label map (and uncertainty map) when the process succeeds. The panel only wires widgets to
it; the Slicer Logic and the self-test use it blocking. The runner is injected
(``runner_factory``), so tests can drive the logic without a process, torch or Slicer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .inference_job import InferenceJob, InferenceRequest, backend_environment
from .process_runner import ProcessRunner, RunResult

RunnerFactory = Callable[[Callable[[dict], None], Callable[[RunResult], None]], object]


@dataclass
class InferenceOutcome:
    """How a run ended and what it added (IDs in the workspace)."""

    result: RunResult
    segmentation: str | None = None
    uncertainty: str | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        """The run finished and its result is in the workspace."""
        return self.segmentation is not None


class InferenceLogic:
    """Start, follow, cancel and import one run at a time."""

    def __init__(self, workspace, runner_factory: RunnerFactory = ProcessRunner,
                 python: list[str] | None = None,
                 environment: Callable[[], dict[str, str]] = backend_environment) -> None:
        self.workspace = workspace
        self.python = python
        self.environment = environment
        self.runner = runner_factory(self._on_event, self._on_finished)
        self.event_callbacks: list[Callable[[dict], None]] = []
        self.finished_callbacks: list[Callable[[InferenceOutcome], None]] = []
        self.job: InferenceJob | None = None
        self.outcome: InferenceOutcome | None = None

    @property
    def running(self) -> bool:
        """A run has started and not finished."""
        return bool(self.runner.running)

    def start(self, request: InferenceRequest) -> None:
        """Check the request, write the inputs and start the process; raises ``RequestError`` (a
        request to fix) or ``RuntimeError`` (cannot start), leaving nothing behind."""
        if self.running:
            raise RuntimeError("an inference is already running; cancel it first")
        self.outcome = None
        job = InferenceJob(request, self.workspace)
        try:
            command = job.command(self.python)
            self.runner.start(command, env=self.environment())
        except BaseException:
            job.cleanup()
            raise
        self.job = job

    def run(self, request: InferenceRequest, timeout_s: float) -> InferenceOutcome:
        """Start and wait (scripts, the Slicer Logic); raises ``TimeoutError`` when the run had to be
        cancelled after ``timeout_s``."""
        self.start(request)
        outcome = self.wait(timeout_s)
        if outcome is None or outcome.result.cancelled:
            raise TimeoutError(f"inference did not finish within {timeout_s:.0f} s and was cancelled")
        return outcome

    def cancel(self) -> None:
        """Ask the process to stop (it gets a grace period, then its tree is killed); nothing is added."""
        if self.running:
            self.runner.cancel()

    def wait(self, timeout_s: float) -> InferenceOutcome | None:
        """Block (Qt events keep flowing) until the run ends; cancels it after ``timeout_s``."""
        self.runner.wait(timeout_s)
        if self.running:
            self.cancel()
            self.runner.wait(30.0)
        return self.outcome

    def _on_event(self, event: dict) -> None:
        for callback in list(self.event_callbacks):
            callback(event)

    def _on_finished(self, result: RunResult) -> None:
        job, self.job = self.job, None
        outcome = InferenceOutcome(result, error=result.error)
        try:
            if job is not None and result.ok:
                try:
                    outcome.segmentation, outcome.uncertainty = job.import_results()
                except Exception as exc:  # an unreadable result is reported, never a traceback dialog
                    outcome.error = f"the result could not be read: {exc}"
        finally:
            if job is not None:
                job.cleanup()
        self.outcome = outcome
        for callback in list(self.finished_callbacks):
            callback(outcome)
