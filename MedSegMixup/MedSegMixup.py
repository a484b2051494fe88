"""MedSegMixup: deep-learning segmentation of CT and MRI in 3D Slicer (S1, S3).

Thin glue between Slicer and MedSegMixupLib: the panels, the process runner and the dependency
handling live there and run outside Slicer too. Nothing heavy is imported here, so Slicer starts
even before torch and the MedSegTrain backend are installed.
"""

import functools

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
            "ensemble in the background and compare the result with a reference. "
            '<a href="https://github.com/MedSegMixup/MedSegMixup/blob/main/docs/slicer.md">Documentation</a>.')
        self.parent.acknowledgementText = _(
            "Methods from Isaksson et al. (mixup for segmentation), Yeung et al. (Mixed Focal loss), "
            "Henry et al. (BraTS 2020 ensemble), Touijer et al. (in-domain transfer learning) and "
            "Kloenne et al. (CT domain cues). Built on MONAI, PyTorch, SimpleITK and 3D Slicer.")


@functools.cache
def _parameterNodeClass():
    """The parameterNodeWrapper class of the module's fields (Slicer >= 5.4), else None."""
    try:
        from slicer.parameterNodeWrapper import parameterNodeWrapper
    except ImportError:
        return None
    from MedSegMixupLib.parameters import wrapper_class

    return wrapper_class(parameterNodeWrapper)


class MedSegMixupWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Puts MedSegMixupLib's panel into the module panel and keeps it in sync with the parameter node."""

    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._syncing = False

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
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
        for event in (slicer.mrmlScene.EndCloseEvent, slicer.mrmlScene.EndImportEvent):
            self.addObserver(slicer.mrmlScene, event, lambda *_args: self.initializeParameterNode())
        self.initializeParameterNode()

    def cleanup(self):
        self.panel.inference_panel.cancel()
        self.workspace.close()
        self.removeObservers()

    def enter(self):
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
                self.panel.set_state(ModuleState.from_object(self._parameterNode))
            finally:
                self._syncing = False

    def _stateToNode(self, state):
        if self._syncing or self._parameterNode is None:
            return
        self._syncing = True
        try:
            for name, value in state.to_dict().items():
                setattr(self._parameterNode, name, value)
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

    def __init__(self):
        ScriptedLoadableModuleLogic.__init__(self)
        self._wrapper = _parameterNodeClass()

    def getParameterNode(self):
        from MedSegMixupLib.parameters import PlainParameters

        node = ScriptedLoadableModuleLogic.getParameterNode(self)
        return self._wrapper(node) if self._wrapper is not None else PlainParameters(node)

    def moduleDir(self):
        import os

        return os.path.dirname(slicer.modules.medsegmixup.path)

    def checkDependencies(self):
        from MedSegMixupLib import dependencies

        return dependencies.check(self.moduleDir())

    def ensureDependencies(self):
        from MedSegMixupLib import dependencies

        return dependencies.ensure(slicer, self.moduleDir())

    def predict(self, inputVolumeNames, bundlePaths, outputName="prediction", tta=0, device="auto",
                uncertainty=False, timeoutSeconds=3600):
        """Run an ensemble on scene volumes (one per input channel) and add the segmentation; blocking,
        for scripts. Returns the new segmentation's name; raises RuntimeError when the run fails."""
        from MedSegMixupLib.bundle_info import read_bundle_summary
        from MedSegMixupLib.inference_job import InferenceRequest
        from MedSegMixupLib.selftest import run_inference
        from MedSegMixupLib.slicer_scene import SlicerWorkspace

        workspace = SlicerWorkspace()
        try:
            request = InferenceRequest([read_bundle_summary(p) for p in bundlePaths], list(inputVolumeNames),
                                       outputName, int(tta), device, bool(uncertainty))
            result, name = run_inference(workspace, request, timeoutSeconds)
        finally:
            workspace.close()
        if name is None:
            raise RuntimeError(result.error or "inference was cancelled")
        return name

    def runSelfTest(self, bundlePath=None):
        """Phantom in the scene → bundle through predict → Dice against the phantom's reference."""
        from MedSegMixupLib import selftest
        from MedSegMixupLib.slicer_scene import SlicerWorkspace

        workspace = SlicerWorkspace()
        try:
            return selftest.run_selftest(workspace, bundlePath or selftest.TEST_BUNDLE)
        finally:
            workspace.close()


class MedSegMixupTest(ScriptedLoadableModuleTest):
    """Self-test: runs inside Slicer (Developer mode → Reload and Test, or ctest)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_PhantomEnsembleDice()

    def test_PhantomEnsembleDice(self):
        self.delayDisplay("Checking the backend")
        logic = MedSegMixupLogic()
        kind, message = logic.checkDependencies()
        if kind != "ok":
            kind, message = logic.ensureDependencies()
        self.assertEqual(kind, "ok", message)
        self.delayDisplay("Phantom → ensemble inference → comparison")
        outcome = logic.runSelfTest()
        node = slicer.util.getFirstNodeByClassByName("vtkMRMLSegmentationNode", outcome.prediction)
        self.assertIsNotNone(node)
        self.assertGreaterEqual(outcome.mean_dice, 0.70)
        self.delayDisplay(f"Test passed: mean Dice {outcome.mean_dice:.3f}")
