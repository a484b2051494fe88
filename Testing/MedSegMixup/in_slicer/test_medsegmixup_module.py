"""The MedSegMixup module inside the Slicer stand-in: Module, Widget, Logic and the self-test.

Runs only in a stand-in process (``../test_in_slicer_standin.py`` starts them). Everything here goes
through the module's real Slicer glue (``MedSegMixup.py``, ``MedSegMixupLib/slicer_scene.py``) on
the stand-in's MRML scene, PythonQt semantics and packaging, so it fails where Slicer would.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import qt
import SimpleITK as sitk
import sitkUtils
import slicer
import standin_config

PROJECT = Path(__file__).resolve().parents[3]
MODULE_FILE = PROJECT / "MedSegMixup" / "MedSegMixup.py"
TEST_BUNDLE = PROJECT / "MedSegMixup" / "Testing" / "Data" / "prostate_tiny"
BLOCKED = standin_config.blocked_modules()
BACKEND = "MedSegTrain" not in BLOCKED and "torch" not in BLOCKED
EXTENSION_ONLY = "MedSegTrain" not in BLOCKED and "torch" in BLOCKED  # the extension, no packages yet
needs_backend = pytest.mark.skipif(not BACKEND, reason="no backend packages in this stand-in process")
fresh_only = pytest.mark.skipif(BACKEND or EXTENSION_ONLY,
                                reason="needs a fresh Slicer (MEDSEG_STANDIN_FRESH=1)")
extension_only = pytest.mark.skipif(not EXTENSION_ONLY, reason="needs the extension without its packages")
# the real-process runs once, on the newest Slicer: what differs between versions is the packaging
real_backend_run = pytest.mark.skipif(not (BACKEND and standin_config.version_at_least(5, 12)),
                                      reason="runs the real backend once, on Slicer 5.12")


@pytest.fixture(scope="module")
def module():
    """The module registered as Slicer's module discovery does."""
    if not hasattr(slicer.modules, "medsegmixup"):
        slicer._registerScriptedModule(str(MODULE_FILE))
    return slicer.modules.medsegmixup


@pytest.fixture
def widget(module):
    """A new widget representation (``setup()`` done), cleaned up afterwards."""
    representation = module.createNewWidgetRepresentation()
    yield representation
    representation.self().cleanup()
    # delete the panel now (as closing Slicer would) so its node selectors stop observing later scenes
    representation.deleteLater()
    slicer.app.sendPostedEvents(None, qt.QEvent.DeferredDelete)


def oblique_image(array: np.ndarray, spacing=(0.7, 0.9, 3.0), origin=(-20.5, 14.25, 33.0)) -> sitk.Image:
    """An image rotated 30° about z with anisotropic spacing (LPS, SimpleITK's convention)."""
    a = math.radians(30)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection((math.cos(a), -math.sin(a), 0.0, math.sin(a), math.cos(a), 0.0, 0.0, 0.0, 1.0))
    return image


def same_geometry(a: sitk.Image, b: sitk.Image) -> bool:
    return (a.GetSize() == b.GetSize() and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=1e-9)
            and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-9)
            and np.allclose(a.GetDirection(), b.GetDirection(), atol=1e-9))


def study_with(node) -> int:
    """Put ``node`` in a new patient/study of the subject hierarchy; returns the study item."""
    shn = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
    patient = shn.CreateSubjectItem(shn.GetSceneItemID(), "Patient 1")
    study = shn.CreateStudyItem(patient, "MR study")
    shn.SetItemParent(shn.GetItemByDataNode(node), study)
    return study


# ------------------------------------------------------------------------------------------ always
def test_module_describes_itself_and_the_slicer_it_needs(module):
    assert module.title == "MedSegMixup" and module.categories == ["Segmentation"]
    assert "5.10 or newer" in module.helpText


def test_panel_builds_and_the_lifecycle_never_raises(widget, scene):
    python_widget = widget.self()
    assert python_widget.panel is not None
    widget.enter()
    widget.exit()
    scene.Clear(0)  # closing the scene while the module is hidden
    widget.enter()
    assert widget.isEntered
    scene.Clear(0)  # and while it is shown
    widget.exit()


def test_scene_notifications_are_muted_while_busy_or_hidden(widget, scene):
    workspace = widget.self().workspace
    calls = []
    workspace.subscribe(lambda: calls.append(1))
    widget.enter()
    scene.StartState(scene.BatchProcessState)
    for index in range(3):
        scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", f"batch{index}")
    assert calls == []  # nothing while batch processing
    scene.EndState(scene.BatchProcessState)
    assert calls == [1]  # one refresh when it ends
    widget.exit()
    scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "while hidden")
    assert calls == [1]  # a hidden module does nothing
    widget.enter()
    assert calls == [1, 1]  # and catches up when shown again


# ------------------------------------------------------------------------------------------ backend
@needs_backend
def test_volumes_cross_with_exact_oblique_anisotropic_geometry(widget, tmp_path):
    from MedSegMixupLib.slicer_scene import SlicerWorkspace

    array = np.random.default_rng(0).integers(-1000, 1000, (5, 7, 9)).astype(np.int16)
    image = oblique_image(array)
    node = sitkUtils.PushVolumeToSlicer(image, name="oblique")
    workspace = SlicerWorkspace()
    try:
        volume = workspace.volume(node.GetID())
        assert np.array_equal(volume.array, array)
        assert same_geometry(volume.to_sitk(), image)
        written = sitk.ReadImage(str(workspace.volume_file(node.GetID(), tmp_path)))
        assert same_geometry(written, image) and np.array_equal(sitk.GetArrayFromImage(written), array)
        back = workspace.add_volume("copy", volume)
        assert same_geometry(sitkUtils.PullVolumeFromSlicer(slicer.mrmlScene.GetNodeByID(back)), image)
    finally:
        workspace.close()


@needs_backend
def test_segmentations_keep_overlapping_segments_under_the_study_with_codes(widget):
    from MedSegMixupLib.slicer_scene import SlicerWorkspace
    from MedSegMixupLib.terminology import serialized_entry
    from MedSegMixupLib.workspace import Segmentation

    image = oblique_image(np.zeros((6, 12, 12), np.float32))
    node = sitkUtils.PushVolumeToSlicer(image, name="t1ce")
    study = study_with(node)
    workspace = SlicerWorkspace()
    try:
        grid = workspace.volume(node.GetID())
        wt = np.zeros((6, 12, 12), bool)
        wt[1:5, 2:10, 2:10] = True
        tc = np.zeros_like(wt)
        tc[2:4, 4:8, 4:8] = True
        et = np.zeros_like(wt)
        et[2:4, 5:7, 5:7] = True
        masks = {"WT": wt, "TC": tc, "ET": et}
        seg_id = workspace.add_segmentation(
            "tumour", Segmentation.from_masks(grid, masks, {"WT": 1, "TC": 2, "ET": 3}),
            reference_volume=node.GetID(), show_3d=True)
        seg_node = slicer.mrmlScene.GetNodeByID(seg_id)
        shn = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
        assert shn.GetItemParent(shn.GetItemByDataNode(seg_node)) == study
        segmentation = seg_node.GetSegmentation()
        assert segmentation.GetNumberOfSegments() == 3
        first = segmentation.GetSegment(segmentation.GetNthSegmentID(0))
        assert first.GetName() == "WT" and first.GetTerminology() == serialized_entry("WT")
        assert "SCT^108369006^Neoplasm" in first.GetTerminology()
        assert segmentation.ContainsRepresentation("Closed surface")
        assert seg_node.GetDisplayNode().GetVisibility3D()
        read = workspace.segmentation(seg_id)
        for name, mask in masks.items():  # each segment reads back exactly its own mask
            assert np.array_equal(read.mask(name), mask), name
        assert read.overlaps() and workspace.source_volume(seg_id) == node.GetID()
    finally:
        workspace.close()


@needs_backend
def test_uncertainty_is_a_foreground_layer_over_the_input(widget):
    from MedSegMixupLib.slicer_scene import SlicerWorkspace

    node = sitkUtils.PushVolumeToSlicer(oblique_image(np.ones((4, 5, 6), np.float32)), name="input")
    slicer.util.setSliceViewerLayers(background=node)
    workspace = SlicerWorkspace()
    try:
        overlay = workspace.add_overlay("input_uncertainty", workspace.volume(node.GetID()),
                                        over=node.GetID())
    finally:
        workspace.close()
    layers = slicer.util.slice_viewer_layers
    assert layers["foreground"] == overlay and layers["background"] == node.GetID()
    display = slicer.mrmlScene.GetNodeByID(overlay).GetDisplayNode()
    assert display.GetColorNodeID() == "vtkMRMLColorTableNodeIron"


@needs_backend
def test_inputs_are_chosen_by_node_even_when_names_repeat(widget):
    panel = widget.self().panel
    first = sitkUtils.PushVolumeToSlicer(oblique_image(np.zeros((4, 5, 6), np.float32)), name="scan")
    second = sitkUtils.PushVolumeToSlicer(oblique_image(np.ones((4, 5, 6), np.float32)), name="scan")
    second.SetName("scan")  # Slicer allows repeated names (PushVolumeToSlicer makes new ones unique)
    assert first.GetID() != second.GetID() and first.GetName() == second.GetName()
    assert panel.inference_panel.add_bundle(TEST_BUNDLE)
    panel.inference_panel.set_inputs([second.GetID()])
    assert panel.inference_panel.request().input_volumes == [second.GetID()]
    assert panel.inference_panel._channel_choosers[0].widget.currentNode() is second


@needs_backend
def test_windowing_changes_only_the_picked_volume(widget):
    panel = widget.self().panel
    ramp = np.linspace(-1000, 1000, 120).reshape(4, 5, 6)
    ct = sitkUtils.PushVolumeToSlicer(oblique_image(ramp), name="ct")
    other = sitkUtils.PushVolumeToSlicer(oblique_image(ramp), name="other")
    for node in (ct, other):
        node.CreateDefaultDisplayNodes()
        node.GetDisplayNode().SetAutoWindowLevel(False)
        node.GetDisplayNode().SetWindowLevel(80.0, 35.0)
    windowing = panel.windowing_panel
    windowing.select_volume(ct.GetID())
    assert windowing.select_preset("ct-bone")
    assert (ct.GetDisplayNode().GetWindow(), ct.GetDisplayNode().GetLevel()) == (1000.0, 400.0)
    assert (other.GetDisplayNode().GetWindow(), other.GetDisplayNode().GetLevel()) == (80.0, 35.0)


@real_backend_run
def test_oblique_volume_to_ensemble_to_compare_equals_medsegtrain_evaluate(widget, tmp_path):
    from MedSegTrain.data.phantoms import case_rng, make_phantom_case

    channels, label = make_phantom_case("prostate-mri", case_rng(77, 0))
    image = oblique_image(channels[0].array.astype(np.float32), spacing=(0.8, 0.75, 2.5))
    reference_image = oblique_image(label.array.astype(np.uint8), spacing=(0.8, 0.75, 2.5))
    volume_node = sitkUtils.PushVolumeToSlicer(image, name="prostate")
    study = study_with(volume_node)
    reference_node = sitkUtils.PushVolumeToSlicer(reference_image, name="reference",
                                                  className="vtkMRMLLabelMapVolumeNode")
    logic = sys.modules["MedSegMixup"].MedSegMixupLogic()
    segmentation_node = logic.predict([volume_node], [str(TEST_BUNDLE)], outputName="prediction")
    shn = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
    assert shn.GetItemParent(shn.GetItemByDataNode(segmentation_node)) == study
    compare = widget.self().panel.compare_panel
    compare.refresh()
    compare.select(reference=reference_node.GetID(), prediction=segmentation_node.GetID())
    result = compare.run_comparison()
    assert result is not None, compare.status.text

    # the same files through the command line, outside Slicer
    sitk.WriteImage(image, str(tmp_path / "prostate.nrrd"))
    sitk.WriteImage(reference_image, str(tmp_path / "reference.nrrd"))
    run = [sys.executable, "-m", "MedSegTrain"]
    subprocess.run([*run, "predict", "--bundle", str(TEST_BUNDLE), "--input",
                    str(tmp_path / "prostate.nrrd"), "--output", str(tmp_path / "prediction.nrrd"),
                    "--progress", "none"], check=True, cwd=PROJECT, timeout=600)
    subprocess.run([*run, "evaluate", "--pred", str(tmp_path / "prediction.nrrd"), "--ref",
                    str(tmp_path / "reference.nrrd"), "--labels", "central_gland=1,peripheral_zone=2",
                    "--json", str(tmp_path / "metrics.json"), "--progress", "none"], check=True, cwd=PROJECT,
                   timeout=600)
    cli = json.loads((tmp_path / "metrics.json").read_text())
    labels = {"central_gland": "1", "peripheral_zone": "2"}  # the label file's segments are named by value
    for name, value in labels.items():
        expected = _label_metrics(cli, name)
        for key in ("dice", "iou", "hd95", "msd", "arvd", "recall", "specificity"):
            assert result.metrics[value][key] == pytest.approx(expected[key], rel=1e-9, abs=1e-12), \
                (name, key)


def _label_metrics(report: dict, label: str) -> dict:
    """The metrics of ``label`` in the single case of an ``evaluate --json`` report."""
    return next(row for row in report["cases"] if row["target"] == label)


@real_backend_run
def test_the_modules_self_test_passes():
    test = sys.modules["MedSegMixup"].MedSegMixupTest()
    test.runTest()


# ------------------------------------------------------------------------------------------ fresh
@fresh_only
def test_fresh_slicer_builds_the_panel_with_one_install_prompt(widget, scene):
    panel = widget.self().panel
    assert panel.backend.kind == "warning"
    for name in ("torch>=2.2", "monai>=1.4", "safetensors>=0.4", "MedSegTrain itself is missing"):
        assert name in panel.backend.text, name
    assert not panel.install_button.isHidden()
    assert "need the MedSegTrain backend" in panel.windowing_panel.status.text
    widget.enter()
    scene.Clear(0)
    widget.exit()


@fresh_only
def test_fresh_install_asks_first_and_a_decline_installs_nothing(widget, dialogs):
    panel = widget.self().panel
    dialogs.answer(qt.QMessageBox.Cancel)  # PyTorch Utils asks before installing torch
    panel.install_button.click()
    assert panel.backend.kind == "error" and "PyTorch was not installed" in panel.backend.text
    assert "light-the-torch" in dialogs.shown[-1].text
    assert standin_config.pip_calls() == []


@fresh_only
@pytest.mark.skipif(not standin_config.version_at_least(5, 12), reason="pip_ensure exists from Slicer 5.12")
def test_fresh_install_brings_torch_and_the_packages_but_not_slicers_own(widget, dialogs):
    panel = widget.self().panel
    dialogs.answer(qt.QMessageBox.Ok)  # PyTorch Utils: install torch
    dialogs.answer(qt.QMessageBox.Ok)  # slicer.packaging.pip_ensure: install the packages
    panel.install_button.click()
    assert [record.title for record in dialogs.shown][-1] == "MedSegMixup - Install Python Packages"
    targets = installed_targets()
    assert {"torch>=2.2", "monai>=1.4", "safetensors>=0.4", "PyYAML>=6.0", "tqdm>=4.66"} <= set(targets)
    assert not {t for t in targets if t.split(">")[0].split("=")[0].lower() in SLICER_OWN}
    assert panel.backend.kind == "error" and "reinstall the MedSegMixup extension" in panel.backend.text


SLICER_OWN = {"numpy", "scipy", "simpleitk", "vtk", "requests"}


def installed_targets() -> list[str]:
    """The requirements the stand-in's pip and light-the-torch were asked to install."""
    targets = []
    for call in standin_config.pip_calls():
        args = call.get("args", [])
        if call.get("module") in ("pip", "light_the_torch") and args[:1] == ["install"]:
            skip = False
            for arg in args[1:]:
                if skip:
                    skip = False
                elif arg in ("--constraint", "-c"):
                    skip = True
                elif not arg.startswith("-"):
                    targets.append(arg)
    return targets


@extension_only
def test_installed_extension_asks_installs_its_packages_and_is_ready(widget, dialogs):
    panel = widget.self().panel
    assert panel.backend.kind == "warning" and "MedSegTrain itself" not in panel.backend.text
    dialogs.answer(qt.QMessageBox.Ok)  # PyTorch Utils: install torch
    dialogs.answer(qt.QMessageBox.Ok)  # the packages: pip_ensure's dialog (5.12) or the module's own (5.10)
    panel.install_button.click()
    asked = dialogs.shown[-1]
    if standin_config.version_at_least(5, 12):
        assert asked.title == "MedSegMixup - Install Python Packages"
    else:
        assert asked.title == "MedSegMixup" and "- monai>=1.4" in asked.text
    targets = installed_targets()
    assert {"torch>=2.2", "monai>=1.4", "matplotlib>=3.7"} <= set(targets)
    assert not {t for t in targets if t.split(">")[0].split("=")[0].lower() in SLICER_OWN}
    assert panel.backend.kind == "ok", panel.backend.text
    assert panel.install_button.isHidden()
    assert panel.windowing_panel.preset_name() != "custom"  # the presets arrived with the backend
