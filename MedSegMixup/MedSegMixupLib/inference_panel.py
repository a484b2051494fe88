"""Ensemble inference panel: bundles, inputs, TTA/device options, Run/Cancel with live progress (S1, B8).

The work runs in a separate ``medsegtrain predict`` process (:mod:`.process_runner`); this panel
only shows its events. Cancel ends the process tree and adds nothing to the workspace.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .bundle_info import BundleError, BundleSummary, ensemble_problem, read_bundle_summary
from .i18n import _
from .inference_job import InferenceRequest, RequestError
from .inference_logic import InferenceLogic, InferenceOutcome, RunnerFactory
from .process_runner import ProcessRunner
from .qt_shim import collapsible_section, existing_directory, open_file_name, prop, qt
from .ui import StatusLine, button, combo, fill_table, readonly_table
from .workspace import default_colors

DEVICES = (("auto", "Auto (GPU when available)"), ("cpu", "CPU"), ("cuda", "GPU (CUDA)"))
BUNDLE_COLUMNS = ["Bundle", "Network", "Models", "Validation"]
PROGRESS_STEPS = 1000


class InferencePanel(qt.QWidget):
    """Choose bundles and inputs, run the ensemble in the background, import the result."""

    def __init__(self, workspace, python: list[str] | None = None, parent=None,
                 runner_factory: RunnerFactory = ProcessRunner) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.bundles: list[BundleSummary] = []
        self.bundle_callbacks: list[Callable[[BundleSummary | None], None]] = []
        self.result_callbacks: list[Callable[[str], None]] = []
        self.input_callbacks: list[Callable[[], None]] = []
        self.window_provider: Callable[[str], tuple[float, float] | None] | None = None
        self.before_run: Callable[[], bool] | None = None
        self.last_outcome: InferenceOutcome | None = None
        self.last_segmentation: str | None = None
        self.logic = InferenceLogic(workspace, runner_factory, python)
        self.logic.event_callbacks.append(self._on_event)
        self.logic.finished_callbacks.append(self._on_finished)
        self._channel_choosers: list = []
        self._build()
        workspace.subscribe(self.refresh)
        self._rebuild_inputs()

    # --------------------------------------------------------------- layout
    def _build(self) -> None:
        layout = qt.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        models_section, models_body = collapsible_section(_("Models"))
        models = qt.QVBoxLayout(models_body)
        self.bundle_table = readonly_table(BUNDLE_COLUMNS)
        self.bundle_table.setToolTip(_("Every bundle and every fold inside it joins the ensemble"))
        self.bundle_table.itemSelectionChanged.connect(self._show_details)
        models.addWidget(self.bundle_table)
        row = qt.QHBoxLayout()
        row.addWidget(button(_("Add folder…"), _("Add a model bundle folder (holding model.json)"),
                             self._choose_bundle_folder))
        row.addWidget(button(_("Add .zip…"), _("Add a zipped model bundle"), self._choose_bundle_zip))
        self.remove_button = button(_("Remove"), _("Remove the selected bundle"), self.remove_selected_bundle)
        row.addWidget(self.remove_button)
        models.addLayout(row)
        self.details = qt.QLabel(_("No model bundle added yet."))
        self.details.setWordWrap(True)
        self.details.setTextFormat(qt.Qt.RichText)
        models.addWidget(self.details)
        layout.addWidget(models_section)

        run_section, run_body = collapsible_section(_("Ensemble inference"))
        form = qt.QFormLayout(run_body)
        self.inputs_box = qt.QWidget()
        self.inputs_layout = qt.QFormLayout(self.inputs_box)
        self.inputs_layout.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.inputs_box)
        tta_row = qt.QHBoxLayout()
        self.tta_check = qt.QCheckBox(_("Test-time augmentation"))
        self.tta_check.setToolTip(_("Average flipped and rotated copies of the input (BraTS ensemble: 16)"))
        self.tta_spin = qt.QSpinBox()
        self.tta_spin.setRange(2, 16)
        self.tta_spin.setValue(8)
        self.tta_spin.setSuffix(_(" variants"))
        self.tta_spin.setEnabled(False)
        self.tta_check.toggled.connect(lambda checked: self.tta_spin.setEnabled(bool(checked)))
        tta_row.addWidget(self.tta_check)
        tta_row.addWidget(self.tta_spin)
        form.addRow(_("Augmentation:"), tta_row)
        self.device_combo = combo([label for _key, label in DEVICES], _("Where the networks run"))
        form.addRow(_("Device:"), self.device_combo)
        limit_row = qt.QHBoxLayout()
        self.time_limit_check = qt.QCheckBox(_("Finish within"))
        self.time_limit_check.setToolTip(_("Time one window first, then use as many augmentations (then "
                                           "models) as fit in this time; the log says which were used"))
        self.time_limit_spin = qt.QSpinBox()
        self.time_limit_spin.setRange(5, 24 * 3600)
        self.time_limit_spin.setValue(300)
        self.time_limit_spin.setSuffix(_(" s"))
        self.time_limit_spin.setEnabled(False)
        self.time_limit_check.toggled.connect(lambda checked: self.time_limit_spin.setEnabled(bool(checked)))
        limit_row.addWidget(self.time_limit_check)
        limit_row.addWidget(self.time_limit_spin)
        form.addRow(_("Time limit:"), limit_row)
        self.uncertainty_check = qt.QCheckBox(_("Also create an uncertainty volume"))
        self.uncertainty_check.setToolTip(_("Per-voxel disagreement between models and augmentations"))
        form.addRow(self.uncertainty_check)
        self.clip_check = qt.QCheckBox(_("Use the display window for the models"))
        self.clip_check.setToolTip(_("The models get the input windowed as it is shown on screen, in "
                                     "place of the window they were trained with (windowed once, "
                                     "never twice)"))
        form.addRow(self.clip_check)
        self.show_3d_check = qt.QCheckBox(_("Show the result in 3D"))
        self.show_3d_check.setToolTip(_("Build closed surfaces of the segments and show them in the 3D view"))
        form.addRow(self.show_3d_check)
        self.output_edit = qt.QLineEdit("prediction")
        self.output_edit.setToolTip(_("Name of the new segmentation"))
        form.addRow(_("Result name:"), self.output_edit)
        actions = qt.QHBoxLayout()
        self.run_button = button(_("Run"), _("Start the ensemble in a background process"), self.run)
        font = self.run_button.font
        font = font() if callable(font) else font
        font.setBold(True)
        self.run_button.setFont(font)
        self.cancel_button = button(_("Cancel"), _("Stop the run; nothing is added to the scene"),
                                    self.cancel)
        self.cancel_button.setEnabled(False)
        actions.addWidget(self.run_button)
        actions.addWidget(self.cancel_button)
        form.addRow(actions)
        self.progress = qt.QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setValue(0)
        self.progress.setFormat(_("idle"))
        self.progress.setTextVisible(True)
        form.addRow(_("Progress:"), self.progress)
        self.log = qt.QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log.setMinimumHeight(60)
        self.log.setMaximumHeight(120)
        self.log.setToolTip(_("Messages of the background process"))
        form.addRow(_("Log:"), self.log)
        self.status = StatusLine()
        form.addRow(self.status.label)
        layout.addWidget(run_section)

    # --------------------------------------------------------------- bundles
    def _choose_bundle_folder(self) -> None:
        folder = existing_directory(self, _("Model bundle folder"))
        if folder:
            self.add_bundle(folder)

    def _choose_bundle_zip(self) -> None:
        path = open_file_name(self, _("Zipped model bundle"), "Bundles (*.zip)")
        if path:
            self.add_bundle(path)

    def add_bundle(self, path: str | Path) -> bool:
        """Add the bundle at ``path``; False (with a message) when it cannot be read or does not fit."""
        try:
            summary = read_bundle_summary(path)
        except BundleError as exc:
            self.status.show("error", str(exc))
            return False
        if any(b.path.resolve() == summary.path.resolve() for b in self.bundles):
            self.status.show("warning", _("{path} is already in the ensemble").format(path=path))
            return False
        problem = ensemble_problem([*self.bundles, summary])
        if problem:
            self.status.show("error", problem)
            return False
        self.bundles.append(summary)
        self._show_bundles()
        self.status.clear()
        return True

    def remove_selected_bundle(self) -> None:
        """Drop the selected bundle from the ensemble."""
        rows = sorted({index.row() for index in self.bundle_table.selectedIndexes()}, reverse=True)
        for row in rows or ([len(self.bundles) - 1] if self.bundles else []):
            del self.bundles[row]
        self._show_bundles()

    def set_bundle_paths(self, paths: list[str]) -> None:
        """Replace the ensemble (parameter-node restore); unreadable paths are reported and skipped."""
        self.bundles = []
        for path in paths:
            self.add_bundle(path)
        self._show_bundles()

    def _show_bundles(self) -> None:
        rows = [[b.name, b.network, str(b.n_members), b.score_text()] for b in self.bundles]
        fill_table(self.bundle_table, rows)
        if self.bundles:
            self.bundle_table.selectRow(len(self.bundles) - 1)
        self._show_details()
        self._rebuild_inputs()
        first = self.bundles[0] if self.bundles else None
        for callback in self.bundle_callbacks:
            callback(first)

    def _show_details(self) -> None:
        rows = sorted({index.row() for index in self.bundle_table.selectedIndexes()})
        if not self.bundles:
            self.details.setText(_("No model bundle added yet."))
            return
        bundle = self.bundles[rows[0] if rows else 0]
        colors = default_colors(bundle.segment_labels)
        swatches = " ".join(f"{_swatch(colors[name])}&nbsp;{name}&nbsp;({value})"
                            for name, value in bundle.segment_labels.items())
        metrics = ", ".join(f"{key} {_metric_text(value)}"
                            for key, value in bundle.validation_metrics.items())
        total = sum(b.n_members for b in self.bundles)
        self.details.setText(
            f"<b>{bundle.name}</b> — {bundle.network}, {bundle.n_members} " + _("fold model(s)") + "<br>"
            + _("Labels:") + f" {swatches}<br>"
            + _("Inputs:") + f" {', '.join(bundle.channels)} ({bundle.modality}) &nbsp; "
            + _("Window:") + f" {bundle.window}<br>"
            + _("Validation:") + f" {metrics or '–'}<br>"
            + _("Ensemble:") + f" <b>{total}</b> " + _("model(s) from") + f" {len(self.bundles)} "
            + _("bundle(s)"))

    # --------------------------------------------------------------- inputs
    def refresh(self) -> None:
        """Follow the workspace's volume list."""
        for chooser in self._channel_choosers:
            chooser.refresh()

    def _rebuild_inputs(self) -> None:
        previous = self.input_ids()
        while prop(self.inputs_layout, "rowCount") > 0:  # a method of QFormLayout, a property elsewhere
            self.inputs_layout.removeRow(0)
        channels = self.bundles[0].channels if self.bundles else ("image",)
        self._channel_choosers = []
        for index, channel in enumerate(channels):
            chooser = self.workspace.chooser(
                "volume", _("Volume for input channel '{channel}'").format(channel=channel))
            if index < len(previous) and previous[index]:
                chooser.select(previous[index])
            chooser.on_changed(self._state_changed)
            self._channel_choosers.append(chooser)
            label = _("Input volume:") if len(channels) == 1 else f"{channel}:"
            self.inputs_layout.addRow(label, chooser.widget)

    def set_inputs(self, item_ids: list[str]) -> None:
        """Choose the input volumes by ID, one per channel."""
        for chooser, item_id in zip(self._channel_choosers, item_ids, strict=False):
            if item_id:
                chooser.select(item_id)

    def input_ids(self) -> list[str]:
        """The chosen input volume ID per channel (``""`` where none is chosen)."""
        return [chooser.current_id() for chooser in self._channel_choosers]

    def _state_changed(self) -> None:
        for callback in self.input_callbacks:
            callback()

    # --------------------------------------------------------------- run
    def request(self) -> InferenceRequest:
        """The run the widgets describe."""
        inputs = self.input_ids()
        window = None
        if self.clip_check.isChecked() and self.window_provider is not None and inputs and inputs[0]:
            window = self.window_provider(inputs[0])
        return InferenceRequest(
            bundles=list(self.bundles),
            input_volumes=inputs,
            output_name=prop(self.output_edit, "text").strip(),
            tta=prop(self.tta_spin, "value") if self.tta_check.isChecked() else 0,
            device=DEVICES[max(prop(self.device_combo, "currentIndex"), 0)][0],
            uncertainty=self.uncertainty_check.isChecked(),
            display_window=window,
            show_3d=self.show_3d_check.isChecked(),
            time_limit=(float(prop(self.time_limit_spin, "value")) if self.time_limit_check.isChecked()
                        else None),
        )

    def run(self) -> bool:
        """Start the ensemble; False (with a message) when the request is incomplete or cannot start."""
        if self.logic.running:
            return False
        if self.before_run is not None and not self.before_run():
            return False
        try:
            request = self.request()
            self.logic.start(request)
        except (RequestError, RuntimeError, OSError) as exc:
            self.status.show("error", str(exc))
            return False
        except Exception as exc:  # e.g. MedSegError while writing inputs: shown, never a traceback dialog
            self.status.show("error", f"{exc}")
            return False
        self.log.clear()
        names = ", ".join(self.workspace.display_name(item) for item in request.input_volumes)
        self._append_log(_("Running {n} model(s) on {inputs}").format(n=request.n_models, inputs=names))
        self.progress.setValue(0)
        self.progress.setFormat(_("starting…"))
        self.status.show("info", _("Running…"))
        self._set_running(True)
        return True

    def cancel(self) -> None:
        """Stop the background process (a grace period, then its tree is killed); nothing is added."""
        if self.logic.running:
            self._append_log(_("Cancelling…"))
            self.logic.cancel()

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _on_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "start":
            self.progress.setValue(0)
            self.progress.setFormat(f"{event.get('task', '')} %p%")
        elif kind == "progress":
            fraction = float(event.get("fraction", 0.0) or 0.0)
            self.progress.setValue(round(PROGRESS_STEPS * min(max(fraction, 0.0), 1.0)))
            self.progress.setFormat(f"{event.get('task', '')} %p%  {event.get('message', '')}".strip())
        elif kind == "log":
            self._append_log(str(event.get("message", "")))
        elif kind == "error":
            self._append_log(_("Error: ") + str(event.get("message", "")))

    def _on_finished(self, outcome: InferenceOutcome) -> None:
        self.last_outcome = outcome
        self._set_running(False)
        result = outcome.result
        if result.cancelled:
            self.progress.setValue(0)
            self.progress.setFormat(_("cancelled"))
            self.status.show("warning", _("Cancelled. Nothing was added."))
        elif not outcome.ok:
            self.progress.setFormat(_("failed"))
            self.status.show("error", outcome.error or _("The run failed."))
        else:
            self._imported(outcome)

    def _imported(self, outcome: InferenceOutcome) -> None:
        self.last_segmentation = outcome.segmentation
        name = self.workspace.display_name(outcome.segmentation)
        self.progress.setValue(PROGRESS_STEPS)
        self.progress.setFormat(_("done"))
        extra = ""
        if outcome.uncertainty:
            extra = _(" and uncertainty overlay ") + self.workspace.display_name(outcome.uncertainty)
        n_models = sum(b.n_members for b in self.bundles)
        self.status.show("ok", _("Added segmentation {name}{extra} ({n} model(s)).").format(
            name=name, extra=extra, n=n_models))
        self._append_log(_("Result: ") + name)
        for callback in self.result_callbacks:
            callback(outcome.segmentation)

    def _append_log(self, text: str) -> None:
        if text:
            self.log.appendPlainText(text)


def _swatch(color: tuple[float, float, float]) -> str:
    hex_color = "".join(f"{round(255 * c):02x}" for c in color)
    return f'<span style="color:#{hex_color}">■</span>'


def _metric_text(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} {_metric_text(v)}" for k, v in value.items()) + "}"
    return str(value)
