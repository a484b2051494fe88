"""The whole module GUI: backend status line and the four panels, wired together.

Slicer-independent: the Slicer widget puts this into its layout with a scene-backed workspace;
tests and a stand-alone window use a :class:`~.workspace.MemoryWorkspace`.
"""

from __future__ import annotations

from collections.abc import Callable

from .compare_panel import ComparePanel
from .i18n import _
from .inference_logic import RunnerFactory
from .inference_panel import DEVICES, InferencePanel
from .load_panel import LoadPanel
from .parameters import ModuleState, split_lines
from .process_runner import ProcessRunner
from .qt_shim import prop, qt
from .ui import StatusLine, button
from .windowing_panel import WindowingPanel


class MedSegMixupPanel(qt.QWidget):
    """Load → windowing → inference → compare, sharing one workspace."""

    def __init__(self, workspace, python: list[str] | None = None,
                 dependency_check: Callable[[], tuple[str, str]] | None = None,
                 install_dependencies: Callable[[], tuple[str, str]] | None = None,
                 dicom_browser: Callable[[], None] | None = None, parent=None,
                 runner_factory: RunnerFactory = ProcessRunner) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.state_callbacks: list[Callable[[ModuleState], None]] = []
        self._restoring = False
        layout = qt.QVBoxLayout(self)
        layout.setSpacing(6)
        self.backend = StatusLine()
        backend_row = qt.QHBoxLayout()
        backend_row.addWidget(self.backend.label, 1)
        self.install_button = button(_("Install backend…"), _("Install MedSegTrain and its Python packages "
                                                              "(asks first)"), self._install)
        self.install_button.setVisible(False)
        backend_row.addWidget(self.install_button)
        layout.addLayout(backend_row)
        self._dependency_check = dependency_check
        self._install_dependencies = install_dependencies

        self.load_panel = LoadPanel(workspace, dicom_browser=dicom_browser)
        self.windowing_panel = WindowingPanel(workspace)
        self.inference_panel = InferencePanel(workspace, python=python, runner_factory=runner_factory)
        self.compare_panel = ComparePanel(workspace)
        for panel in (self.load_panel, self.windowing_panel, self.inference_panel, self.compare_panel):
            layout.addWidget(panel)
        layout.addStretch(1)
        self._wire()
        self.check_backend()

    def _wire(self) -> None:
        self.load_panel.loaded_callbacks.append(self._volume_loaded)
        self.inference_panel.bundle_callbacks.append(
            lambda bundle: self.windowing_panel.set_model_window(bundle.window if bundle else None))
        self.inference_panel.window_provider = self.windowing_panel.display_window
        self.inference_panel.result_callbacks.append(self._result_added)
        self.inference_panel.input_callbacks.append(self._state_changed)
        self.windowing_panel.preset_callbacks.append(lambda _name: self._state_changed())
        inference, compare = self.inference_panel, self.compare_panel
        for signal in (inference.tta_check.toggled, inference.uncertainty_check.toggled,
                       inference.clip_check.toggled, inference.show_3d_check.toggled,
                       inference.device_combo.currentIndexChanged, inference.time_limit_check.toggled,
                       inference.time_limit_spin.valueChanged,
                       inference.tta_spin.valueChanged, inference.output_edit.editingFinished):
            signal.connect(lambda *_args: self._state_changed())
        compare.reference.on_changed(self._state_changed)
        compare.prediction.on_changed(self._state_changed)
        self.inference_panel.bundle_callbacks.append(lambda _bundle: self._state_changed())

    def _volume_loaded(self, item_id: str) -> None:
        self.windowing_panel.select_volume(item_id)
        if len(self.inference_panel.input_ids()) == 1:
            self.inference_panel.set_inputs([item_id])
        references = [s for s in self.workspace.segmentation_ids()
                      if self.workspace.source_volume(s) == item_id]
        if references:
            self.compare_panel.select(reference=references[-1])

    def _result_added(self, item_id: str) -> None:
        self.compare_panel.refresh()
        self.compare_panel.select(prediction=item_id)

    # --------------------------------------------------------------- backend
    def check_backend(self) -> bool:
        """Show whether the backend is usable; True when it is."""
        if self._dependency_check is None:
            try:
                import MedSegTrain

                kind, text = "ok", _("Backend: MedSegTrain {version}").format(version=MedSegTrain.__version__)
            except ImportError:
                kind, text = "error", _("Backend: MedSegTrain is not installed in this Python.")
        else:
            kind, text = self._dependency_check()
        self.backend.show(kind, text)
        self.install_button.setVisible(kind != "ok" and self._install_dependencies is not None)
        return kind == "ok"

    def _install(self) -> None:
        kind, text = self._install_dependencies()
        self.backend.show(kind, text)
        if kind == "ok":
            self.install_button.setVisible(False)
            self.windowing_panel.reload_presets()

    # --------------------------------------------------------------- state
    def state(self) -> ModuleState:
        """The current choices of every panel."""
        inference = self.inference_panel
        return ModuleState(
            windowPreset=self.windowing_panel.preset_name(),
            windowWidth=prop(self.windowing_panel.window_spin, "value"),
            windowLevel=prop(self.windowing_panel.level_spin, "value"),
            bundlePaths="\n".join(str(b.path) for b in inference.bundles),
            inputVolumes="\n".join(inference.input_ids()),
            tta=inference.tta_check.isChecked(),
            ttaVariants=prop(inference.tta_spin, "value"),
            device=DEVICES[max(prop(inference.device_combo, "currentIndex"), 0)][0],
            timeLimit=inference.time_limit_check.isChecked(),
            timeLimitSeconds=prop(inference.time_limit_spin, "value"),
            uncertainty=inference.uncertainty_check.isChecked(),
            clipToWindow=inference.clip_check.isChecked(),
            show3D=inference.show_3d_check.isChecked(),
            outputName=prop(inference.output_edit, "text"),
            referenceSegmentation=self.compare_panel.reference.current_id(),
            predictionSegmentation=self.compare_panel.prediction.current_id(),
        )

    def set_state(self, state: ModuleState) -> None:
        """Restore choices (e.g. from a parameter node after a scene was loaded)."""
        self._restoring = True
        try:
            windowing, inference = self.windowing_panel, self.inference_panel
            if state.windowPreset == "custom":
                windowing.window_spin.setValue(state.windowWidth)
                windowing.level_spin.setValue(state.windowLevel)
            windowing.select_preset(state.windowPreset, apply=False)
            wanted = split_lines(state.bundlePaths)
            if wanted != [str(b.path) for b in inference.bundles]:
                inference.set_bundle_paths(wanted)
            inference.set_inputs(split_lines(state.inputVolumes))
            inference.tta_check.setChecked(state.tta)
            inference.tta_spin.setValue(state.ttaVariants)
            keys = [key for key, _label in DEVICES]
            inference.device_combo.setCurrentIndex(keys.index(state.device) if state.device in keys else 0)
            inference.time_limit_check.setChecked(state.timeLimit)
            inference.time_limit_spin.setValue(state.timeLimitSeconds)
            inference.uncertainty_check.setChecked(state.uncertainty)
            inference.clip_check.setChecked(state.clipToWindow)
            inference.show_3d_check.setChecked(state.show3D)
            inference.output_edit.setText(state.outputName)
            self.compare_panel.select(reference=state.referenceSegmentation or None,
                                      prediction=state.predictionSegmentation or None)
        finally:
            self._restoring = False

    def _state_changed(self) -> None:
        if self._restoring:
            return
        state = self.state()
        for callback in self.state_callbacks:
            callback(state)
