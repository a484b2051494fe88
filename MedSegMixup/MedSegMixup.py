"""MedSegMixup: deep-learning segmentation of CT and MRI in 3D Slicer (S1, S3).

Thin glue between Slicer and MedSegMixupLib: the panels, the inference logic, the process runner
and the dependency handling live there and run outside Slicer too. Nothing heavy is imported
here, so Slicer starts even before torch and the backend's packages are installed. This file and
``MedSegMixupLib/slicer_version.py`` stay valid Python 3.9, so an old Slicer (5.8) shows a clear
message instead of a syntax error.
"""

import os

import slicer
import vtk
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin


class MedSegMixup(ScriptedLoadableModule):
    """Module description shown by Slicer."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("MedSegMixup")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["MedSegMixup developers"]
        self.parent.helpText = _(
            "Segment CT and MRI with ensembles of trained models: load a volume, choose a window, run the "
            "ensemble in the background and compare the result with a reference. Needs 3D Slicer 5.10 or "
            'newer. <a href="https://github.com/MedSegMixup/MedSegMixup/blob/main/docs/slicer.md">'
            "Documentation</a>.")
        self.parent.acknowledgementText = _(
            "Methods from Isaksson et al. (mixup for segmentation), Yeung et al. (Mixed Focal loss), "
            "Henry et al. (BraTS 2020 ensemble), Touijer et al. (in-domain transfer learning) and "
            "Kloenne et al. (CT domain cues). Built on MONAI, PyTorch, SimpleITK and 3D Slicer.")


def unsupportedReason():
    """Why this Slicer cannot run the module, "" when it can."""
    from MedSegMixupLib.slicer_version import running_version, unsupported_reason

    return unsupported_reason(running_version(slicer.app))


class MedSegMixupWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Puts MedSegMixupLib's panel into the module panel and keeps it in sync with the parameter node."""

    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self.panel = None
        self.workspace = None
        self._parameterNode = None
        self._syncing = False

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        reason = unsupportedReason()
        if reason:
            from MedSegMixupLib.qt_shim import qt

            label = qt.QLabel(reason)
            label.wordWrap = True
            self.layout.addWidget(label)
            self.layout.addStretch(1)
            return
        from MedSegMixupLib.module_panel import MedSegMixupPanel
        from MedSegMixupLib.slicer_scene import SlicerWorkspace

        self.logic = MedSegMixupLogic()
        self.workspace = SlicerWorkspace()
        self.panel = MedSegMixupPanel(
            self.workspace, dependency_check=self.logic.checkDependencies,
            install_dependencies=self.logic.ensureDependencies,
            dicom_browser=lambda: slicer.util.selectModule("DICOM"))
        self.panel.inference_panel.before_run = self._backendReady
        self.panel.state_callbacks.append(self._stateToNode)
        self.layout.addWidget(self.panel)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self._sceneEnded)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndImportEvent, self._sceneEnded)
        self.initializeParameterNode()

    def cleanup(self):
        """Called when the application closes or the module is reloaded."""
        if self.panel is not None:
            self.panel.inference_panel.cancel()
        if self.workspace is not None:
            self.workspace.close()
        self.removeObservers()

    def enter(self):
        """Called each time the module is shown."""
        if self.panel is None:
            return
        self.workspace.set_active(True)
        self.initializeParameterNode()

    def exit(self):
        """Called each time another module is shown: scene changes are no longer followed."""
        if self.workspace is not None:
            self.workspace.set_active(False)

    def _sceneEnded(self, *_args):
        if self.panel is not None and self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        """Observe the module's parameter node and show its state (e.g. after a scene was loaded)."""
        if self._parameterNode is not None:
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._nodeToState)
        self._parameterNode = self.logic.getParameterNode()
        self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._nodeToState)
        self._nodeToState()

    def _nodeToState(self, *_args):
        from MedSegMixupLib.parameters import ModuleState

        if not self._syncing:
            self._syncing = True
            try:
                self.panel.set_state(ModuleState.from_object(self.logic.parameters(self._parameterNode)))
            finally:
                self._syncing = False

    def _stateToNode(self, state):
        if self._syncing or self._parameterNode is None:
            return
        self._syncing = True
        try:
            parameters = self.logic.parameters(self._parameterNode)
            for name, value in state.to_dict().items():
                setattr(parameters, name, value)
        finally:
            self._syncing = False

    def _backendReady(self):
        kind, message = self.logic.checkDependencies()
        if kind != "ok":
            kind, message = self.logic.ensureDependencies()
        self.panel.backend.show(kind, message)
        return kind == "ok"


class MedSegMixupLogic(ScriptedLoadableModuleLogic):
    """Everything the module computes, usable from the Python console without the GUI."""

    def __init__(self, runnerFactory=None):
        ScriptedLoadableModuleLogic.__init__(self)
        from MedSegMixupLib.dependencies import make_backend_importable

        make_backend_importable(self.moduleDir())
        self.runnerFactory = runnerFactory

    @staticmethod
    def parameters(node):
        """The module's fields on its parameter node (string parameters of the scripted module node)."""
        from MedSegMixupLib.parameters import PlainParameters

        return PlainParameters(node)

    def moduleDir(self):
        return os.path.dirname(slicer.modules.medsegmixup.path)

    def checkDependencies(self):
        from MedSegMixupLib import dependencies

        return dependencies.check(self.moduleDir())

    def ensureDependencies(self):
        from MedSegMixupLib import dependencies
        from MedSegMixupLib.slicer_version import running_version

        return dependencies.ensure(slicer, self.moduleDir(), running_version(slicer.app))

    def predict(self, inputVolumeNodes, bundlePaths, outputName="prediction", tta=0, device="auto",
                uncertainty=False, timeoutSeconds=3600):
        """Run an ensemble on volume nodes (one per input channel) and add the segmentation; blocking,
        for scripts. Returns the new segmentation node; raises RuntimeError when the run fails."""
        from MedSegMixupLib.bundle_info import read_bundle_summary
        from MedSegMixupLib.inference_job import InferenceRequest
        from MedSegMixupLib.inference_logic import InferenceLogic
        from MedSegMixupLib.slicer_scene import SlicerWorkspace

        workspace = SlicerWorkspace()
        try:
            request = InferenceRequest([read_bundle_summary(p) for p in bundlePaths],
                                       [node.GetID() for node in inputVolumeNodes], outputName, int(tta),
                                       device, bool(uncertainty))
            inference = InferenceLogic(workspace, **({"runner_factory": self.runnerFactory}
                                                     if self.runnerFactory else {}))
            outcome = inference.run(request, timeoutSeconds)
        finally:
            workspace.close()
        if not outcome.ok:
            raise RuntimeError(outcome.error or "inference failed")
        return slicer.mrmlScene.GetNodeByID(outcome.segmentation)


class MedSegMixupTest(ScriptedLoadableModuleTest):
    """Self-test: runs inside Slicer (Developer mode → Reload and Test, or ctest)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_PhantomEnsembleDice()

    def test_PhantomEnsembleDice(self):
        """Phantom in the scene → bundled test model through ``medsegtrain predict`` → Dice vs reference."""
        self.assertEqual(unsupportedReason(), "")
        self.delayDisplay("Checking the backend")
        logic = MedSegMixupLogic()
        kind, message = logic.checkDependencies()
        if kind != "ok":
            kind, message = logic.ensureDependencies()
        self.assertEqual(kind, "ok", message)
        self.delayDisplay("Phantom → ensemble inference → comparison")
        from MedSegMixupLib import selftest
        from MedSegMixupLib.slicer_scene import SlicerWorkspace

        workspace = SlicerWorkspace()
        try:
            outcome = selftest.run_selftest(workspace, selftest.TEST_BUNDLE)
        finally:
            workspace.close()
        node = slicer.mrmlScene.GetNodeByID(outcome.prediction)
        self.assertIsNotNone(node)
        self.assertEqual(node.GetSegmentation().GetNumberOfSegments(), 2)
        self.assertGreaterEqual(outcome.mean_dice, selftest.MIN_MEAN_DICE)
        self.delayDisplay(f"Test passed: mean Dice {outcome.mean_dice:.3f}")
