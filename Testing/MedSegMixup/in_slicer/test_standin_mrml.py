"""Fidelity tests of the MRML / slicer.util / sitkUtils stand-in (run only inside a stand-in process).

Expected values come from Slicer's sources (enum values of vtkMRMLScene.h, ID/name rules of
vtkMRMLScene.cxx, LPS<->RAS flip of Base/Python/sitkUtils.py) or are computed by hand here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk
import sitkUtils
import slicer
import vtk

SPACING = (0.7, 0.9, 3.0)
ORIGIN_LPS = (12.5, -30.25, 7.0)
ANGLE = math.radians(30.0)
ROT_Z = np.array(
    [[math.cos(ANGLE), -math.sin(ANGLE), 0.0], [math.sin(ANGLE), math.cos(ANGLE), 0.0], [0.0, 0.0, 1.0]]
)


@pytest.fixture(autouse=True)
def clean_scene():
    slicer.mrmlScene.Clear(0)
    yield
    slicer.mrmlScene.Clear(0)


def _matrix(node) -> np.ndarray:
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return slicer.util.arrayFromVTKMatrix(matrix)


def _oblique_sitk_image() -> sitk.Image:
    voxels = np.arange(5 * 4 * 3, dtype=np.int16).reshape(5, 4, 3) - 17  # (k, j, i)
    image = sitk.GetImageFromArray(voxels)
    image.SetSpacing(SPACING)
    image.SetOrigin(ORIGIN_LPS)
    image.SetDirection(ROT_Z.ravel().tolist())
    return image


def _expected_ijk_to_ras() -> np.ndarray:
    """By hand: RAS = diag(-1, -1, 1) . (R . diag(spacing) . ijk + origin_LPS)."""
    expected = np.eye(4)
    expected[:3, :3] = np.diag([-1.0, -1.0, 1.0]) @ ROT_Z @ np.diag(SPACING)
    expected[:3, 3] = [-ORIGIN_LPS[0], -ORIGIN_LPS[1], ORIGIN_LPS[2]]
    return expected


def test_sitk_push_pull_keeps_oblique_anisotropic_geometry():
    image = _oblique_sitk_image()
    node = sitkUtils.PushVolumeToSlicer(image, name="oblique")
    assert node.GetClassName() == "vtkMRMLScalarVolumeNode"
    assert node.GetName() == "oblique"
    np.testing.assert_allclose(_matrix(node), _expected_ijk_to_ras(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(node.GetSpacing(), SPACING, rtol=0, atol=1e-15)
    assert node.GetOrigin() == (-12.5, 30.25, 7.0)  # sign flips are exact
    image_data = node.GetImageData()
    assert image_data.GetOrigin() == (0.0, 0.0, 0.0) and image_data.GetSpacing() == (1.0, 1.0, 1.0)
    assert np.array_equal(slicer.util.arrayFromVolume(node), sitk.GetArrayFromImage(image))

    pulled = sitkUtils.PullVolumeFromSlicer(node)
    assert np.array_equal(sitk.GetArrayFromImage(pulled), sitk.GetArrayFromImage(image))
    assert pulled.GetOrigin() == ORIGIN_LPS
    np.testing.assert_allclose(pulled.GetSpacing(), SPACING, rtol=0, atol=1e-15)
    np.testing.assert_allclose(pulled.GetDirection(), ROT_Z.ravel(), rtol=0, atol=1e-15)
    # a voxel's physical point agrees between SimpleITK (LPS) and the node's matrix (RAS)
    lps = np.array(image.TransformIndexToPhysicalPoint((2, 3, 4)))
    ras = _matrix(node) @ np.array([2, 3, 4, 1.0])
    np.testing.assert_allclose(ras[:3], lps * [-1, -1, 1], rtol=0, atol=1e-12)


def test_sitk_push_into_existing_node_and_pull_by_name():
    target = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "target")
    node = sitkUtils.PushVolumeToSlicer(_oblique_sitk_image(), targetNode=target)
    assert node is target
    assert sitkUtils.PullVolumeFromSlicer("target").GetSize() == (3, 4, 5)
    assert sitkUtils.IsMRMLIDImageIOAvailable() is True


def test_array_with_ijk_to_ras_round_trip():
    ijk_to_ras = _expected_ijk_to_ras()
    voxels = np.random.default_rng(0).normal(size=(5, 4, 3)).astype(np.float32)
    node = slicer.util.addVolumeFromArray(voxels, ijk_to_ras, name="arr")
    np.testing.assert_allclose(_matrix(node), ijk_to_ras, rtol=0, atol=1e-14)
    assert np.array_equal(slicer.util.arrayFromVolume(node), voxels)
    dirs = [[0.0] * 3 for _ in range(3)]
    node.GetIJKToRASDirections(dirs)
    np.testing.assert_allclose(dirs, np.diag([-1.0, -1.0, 1.0]) @ ROT_Z, rtol=0, atol=1e-15)
    ras_to_ijk = vtk.vtkMatrix4x4()
    node.GetRASToIJKMatrix(ras_to_ijk)
    np.testing.assert_allclose(slicer.util.arrayFromVTKMatrix(ras_to_ijk) @ ijk_to_ras, np.eye(4), atol=1e-12)
    again = slicer.util.addVolumeFromArray(voxels, slicer.util.vtkMatrixFromArray(ijk_to_ras))
    np.testing.assert_allclose(_matrix(again), ijk_to_ras, rtol=0, atol=1e-14)


def test_array_from_volume_is_a_kji_view():
    node = slicer.util.addVolumeFromArray(np.zeros((2, 3, 4), np.int16))
    view = slicer.util.arrayFromVolume(node)
    assert view.shape == (2, 3, 4)
    view[1, 2, 3] = 42  # k=1, j=2, i=3
    assert node.GetImageData().GetScalarComponentAsDouble(3, 2, 1, 0) == 42
    assert node.GetImageData().GetDimensions() == (4, 3, 2)
    copy = np.array(view)
    copy[0, 0, 0] = 7
    assert node.GetImageData().GetScalarComponentAsDouble(0, 0, 0, 0) == 0
    vector = slicer.util.addVolumeFromArray(
        np.zeros((2, 3, 4, 3), np.uint8), nodeClassName="vtkMRMLVectorVolumeNode"
    )
    assert slicer.util.arrayFromVolume(vector).shape == (2, 3, 4, 3)
    assert vector.IsA("vtkMRMLScalarVolumeNode")  # vector -> tensor -> scalar volume node in Slicer

    class vtkMRMLCustomVolumeNode(slicer.vtkMRMLScalarVolumeNode):
        pass

    custom = vtkMRMLCustomVolumeNode()
    image = vtk.vtkImageData()
    image.SetDimensions(1, 1, 1)
    image.AllocateScalars(vtk.VTK_SHORT, 1)
    custom.SetAndObserveImageData(image)
    with pytest.raises(RuntimeError, match="Unsupported volume type"):  # exact class names only
        slicer.util.arrayFromVolume(custom)


def test_itk_python_is_absent_as_in_slicer():
    node = slicer.util.addVolumeFromArray(np.zeros((2, 2, 2), np.int16), name="v")
    with pytest.raises(ModuleNotFoundError, match="No module named 'itk'"):
        slicer.util.itkImageFromVolume(node)
    with pytest.raises(ModuleNotFoundError):
        import itk  # noqa: F401
    before = slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")
    with pytest.raises(ModuleNotFoundError):
        slicer.util.addVolumeFromITKImage(object(), name="x")
    # the node is added before the failing import, as in Slicer
    assert slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == before + 1


def _brats_masks(shape=(6, 7, 8)):
    wt = np.zeros(shape, np.uint8)
    wt[1:5, 1:6, 1:7] = 1
    tc = np.zeros(shape, np.uint8)
    tc[2:4, 2:5, 2:6] = 1
    et = np.zeros(shape, np.uint8)
    et[2:3, 3:4, 3:5] = 1
    return {"WT": wt, "TC": tc, "ET": et}


def test_overlapping_segments_read_back_exactly():
    reference = slicer.util.addVolumeFromArray(np.zeros((6, 7, 8), np.int16), _expected_ijk_to_ras(), "ref")
    segmentation_node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "tumor")
    segmentation_node.CreateDefaultDisplayNodes()
    segmentation_node.SetReferenceImageGeometryParameterFromVolumeNode(reference)
    assert (
        segmentation_node.GetNodeReference(segmentation_node.GetReferenceImageGeometryReferenceRole())
        is reference
    )
    segmentation = segmentation_node.GetSegmentation()
    masks = _brats_masks()
    ids = {}
    for name, mask in masks.items():
        ids[name] = segmentation.AddEmptySegment("", name, [1.0, 0.0, 0.0])
        slicer.util.updateSegmentBinaryLabelmapFromArray(mask, segmentation_node, ids[name], reference)
    assert segmentation.GetNumberOfSegments() == 3
    assert all(segment_id.startswith("2.25.") for segment_id in ids.values())  # UUID-derived segment IDs
    assert segmentation.GetSegmentIdBySegmentName("et") == ids["ET"]  # case-insensitive
    for name, mask in masks.items():
        read = slicer.util.arrayFromSegmentBinaryLabelmap(segmentation_node, ids[name], reference)
        assert read.dtype == np.int16
        assert np.array_equal(read, mask), name
        assert np.array_equal(slicer.util.arrayFromSegmentBinaryLabelmap(segmentation_node, ids[name]), mask)
    assert segmentation.GetSegment(ids["TC"]).GetColor() == (1.0, 0.0, 0.0)
    assert segmentation.GetSourceRepresentationName() == "Binary labelmap"
    # temporary "__temp__" label maps are gone again
    assert slicer.mrmlScene.GetFirstNodeByName("__temp__") is None


def test_segment_resampled_nearest_neighbour_to_other_grid():
    fine = slicer.util.addVolumeFromArray(
        np.zeros((4, 4, 4), np.int16), np.diag([1.0, 1.0, 1.0, 1.0]), "fine"
    )
    coarse = slicer.util.addVolumeFromArray(
        np.zeros((2, 2, 2), np.int16), np.diag([2.0, 2.0, 2.0, 1.0]), "coarse"
    )
    node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    node.SetReferenceImageGeometryParameterFromVolumeNode(fine)
    segment_id = node.GetSegmentation().AddEmptySegment("s")
    mask = np.zeros((4, 4, 4), np.uint8)
    mask[2, 2, 2] = 1  # RAS (2, 2, 2) = coarse voxel (1, 1, 1)
    slicer.util.updateSegmentBinaryLabelmapFromArray(mask, node, segment_id, fine)
    expected = np.zeros((2, 2, 2), np.int16)
    expected[1, 1, 1] = 1
    assert np.array_equal(slicer.util.arrayFromSegmentBinaryLabelmap(node, segment_id, coarse), expected)


def test_closed_surface_representation_is_a_real_polydata():
    reference = slicer.util.addVolumeFromArray(np.zeros((6, 7, 8), np.int16), _expected_ijk_to_ras(), "ref")
    node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    node.SetReferenceImageGeometryParameterFromVolumeNode(reference)
    segment_id = node.GetSegmentation().AddEmptySegment("", "WT")
    slicer.util.updateSegmentBinaryLabelmapFromArray(_brats_masks()["WT"], node, segment_id, reference)
    assert not node.GetSegmentation().ContainsRepresentation("Closed surface")
    assert node.CreateClosedSurfaceRepresentation()
    surface = node.GetClosedSurfaceInternalRepresentation(segment_id)
    assert isinstance(surface, vtk.vtkPolyData)
    assert surface.GetNumberOfPoints() > 0 and surface.GetNumberOfPolys() > 0
    # the surface is in RAS: its bounds lie inside the reference volume's RAS bounding box
    corners = (
        np.array([[i, j, k, 1.0] for i in (-1, 8) for j in (-1, 7) for k in (-1, 6)])
        @ _expected_ijk_to_ras().T
    )
    bounds = surface.GetBounds()
    for axis in range(3):
        assert corners[:, axis].min() <= bounds[2 * axis] <= bounds[2 * axis + 1] <= corners[:, axis].max()


def test_scene_event_values_and_observers_receive_the_node():
    scene = slicer.mrmlScene
    assert (scene.NodeAddedEvent, scene.NodeRemovedEvent) == (0x2001, 0x2003)
    assert (scene.StartCloseEvent, scene.EndCloseEvent) == (0x2103, 0x2203)
    assert (scene.StartImportEvent, scene.EndImportEvent) == (0x2105, 0x2205)
    assert (scene.StartBatchProcessEvent, scene.EndBatchProcessEvent) == (0x2101, 0x2201)
    received = []

    @vtk.calldata_type(vtk.VTK_OBJECT)
    def on_node(caller, event, node):
        received.append((caller, node))

    tags = [
        scene.AddObserver(scene.NodeAddedEvent, on_node),
        scene.AddObserver(scene.NodeRemovedEvent, on_node),
    ]
    node = scene.AddNewNodeByClass("vtkMRMLTableNode", "t")
    scene.RemoveNode(node)
    for tag in tags:
        scene.RemoveObserver(tag)
    assert received == [(scene, node), (scene, node)]
    assert node.GetScene() is None


def test_scene_states_are_set_inside_their_phases():
    scene = slicer.mrmlScene
    seen = []

    def record(name):
        return lambda *_: seen.append(
            (name, scene.IsClosing(), scene.IsImporting(), scene.IsBatchProcessing())
        )

    events = {
        "startBatch": scene.StartBatchProcessEvent,
        "startClose": scene.StartCloseEvent,
        "endClose": scene.EndCloseEvent,
        "startImport": scene.StartImportEvent,
        "endImport": scene.EndImportEvent,
        "endBatch": scene.EndBatchProcessEvent,
    }
    tags = [scene.AddObserver(event, record(name)) for name, event in events.items()]
    scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode")
    scene.Clear(0)
    scene.StartState(scene.ImportState)
    scene.StartState(scene.ImportState)  # nested: fires nothing
    assert scene.IsImporting() and scene.IsBatchProcessing()
    scene.EndState(scene.ImportState)
    assert scene.IsImporting()
    scene.EndState(scene.ImportState)
    for tag in tags:
        scene.RemoveObserver(tag)
    assert seen == [
        ("startBatch", True, False, True),
        ("startClose", True, False, True),
        ("endClose", False, False, False),
        ("endBatch", False, False, False),  # EndState pops first
        ("startBatch", False, True, True),
        ("startImport", False, True, True),
        ("endImport", False, False, False),
        ("endBatch", False, False, False),
    ]
    assert not (scene.IsClosing() or scene.IsImporting() or scene.IsBatchProcessing())


def test_names_may_repeat_ids_stay_unique_and_clear_keeps_singletons():
    scene = slicer.mrmlScene
    first = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    second = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    assert first.GetName() == second.GetName() == "CT"
    assert (first.GetID(), second.GetID()) == ("vtkMRMLScalarVolumeNode1", "vtkMRMLScalarVolumeNode2")
    assert scene.GenerateUniqueName("CT") == "CT_1"
    assert scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode").GetName() == "LabelMapVolume"
    assert slicer.util.getFirstNodeByClassByName("vtkMRMLScalarVolumeNode", "CT") is first
    assert slicer.util.getNode("CT") is second  # getNodes keeps the last node of a name
    assert len(slicer.util.getNodesByClass("vtkMRMLScalarVolumeNode")) == 3  # label maps are scalar volumes
    collection = scene.GetNodesByClass("vtkMRMLLabelMapVolumeNode")
    assert isinstance(collection, vtk.vtkCollection) and collection.GetNumberOfItems() == 1
    collection.UnRegister(None)
    singleton = scene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
    singleton.UnRegister(None)
    singleton.SetSingletonTag("MedSegMixup")
    singleton.SetParameter("k", "v")
    assert scene.AddNode(singleton).GetID() == "vtkMRMLScriptedModuleNodeMedSegMixup"
    assert scene.GetSingletonNode("MedSegMixup", "vtkMRMLScriptedModuleNode") is singleton
    scene.Clear(0)
    assert scene.GetNodeByID("vtkMRMLScriptedModuleNodeMedSegMixup") is singleton
    assert scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == 0
    assert scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode").GetID() == "vtkMRMLScalarVolumeNode1"
    with pytest.raises(slicer.util.MRMLNodeNotFoundException):
        slicer.util.getNode("CT")


def test_subject_hierarchy_items_follow_data_nodes():
    scene = slicer.mrmlScene
    sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    assert sh is scene.GetSubjectHierarchyNode()
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "T1")
    item = sh.GetItemByDataNode(volume)
    assert item != sh.INVALID_ITEM_ID == 0
    assert sh.GetItemParent(item) == sh.GetSceneItemID()
    assert sh.GetItemDataNode(item) is volume and sh.GetItemName(item) == "T1"
    assert sh.GetItemByDataNode(volume.GetDisplayNode()) == 0 if volume.GetDisplayNode() else True
    patient = sh.CreateSubjectItem(sh.GetSceneItemID(), "Patient 1")
    study = sh.CreateStudyItem(patient, "Study 1")
    assert (sh.GetItemLevel(patient), sh.GetItemLevel(study)) == ("Patient", "Study")
    sh.SetItemParent(item, study)
    assert sh.GetItemParent(item) == study
    assert slicer.util.getSubjectHierarchyItemChildren(patient) == [study]
    assert slicer.util.getSubjectHierarchyItemChildren(patient, True) == [study, item]
    sh.SetItemAttribute(item, "role", "input")
    assert sh.GetItemAttribute(item, "role") == "input"
    volume.SetName("renamed")
    assert sh.GetItemName(item) == "renamed"
    scene.RemoveNode(volume)
    assert sh.GetItemByDataNode(volume) == 0
    assert slicer.util.getSubjectHierarchyItemChildren(study) == []
    table = scene.AddNewNodeByClass("vtkMRMLTableNode")
    table_item = sh.GetItemByDataNode(table)
    assert sh.RemoveItem(table_item)  # removeDataNode=True by default
    assert not scene.IsNodePresent(table)


def test_auto_window_level_overrides_until_switched_off():
    voxels = np.arange(1000, dtype=np.int16).reshape(10, 10, 10)
    node = slicer.util.addVolumeFromArray(voxels, name="wl")
    display = node.GetDisplayNode()
    assert display.GetClassName() == "vtkMRMLScalarVolumeDisplayNode"
    assert display.GetColorNodeID() == "vtkMRMLColorTableNodeGrey"
    assert display.GetAutoWindowLevel() == 1
    automatic = (display.GetWindow(), display.GetLevel())
    assert automatic != (256.0, 128.0)
    display.SetWindowLevel(80.0, 40.0)  # auto still on: recomputed on Modified
    assert (display.GetWindow(), display.GetLevel()) == automatic
    display.SetAutoWindowLevel(0)
    display.SetWindowLevel(80.0, 40.0)
    assert (display.GetWindow(), display.GetLevel()) == (80.0, 40.0)
    label = slicer.util.addVolumeFromArray(voxels, nodeClassName="vtkMRMLLabelMapVolumeNode")
    assert label.GetDisplayNode().GetColorNodeID() == "vtkMRMLColorTableNodeLabels"
    assert not hasattr(label.GetDisplayNode(), "SetWindowLevel")


def test_load_and_export_keep_geometry(tmp_path):
    image = _oblique_sitk_image()
    path = tmp_path / "case01.nii.gz"
    sitk.WriteImage(image, str(path))
    node = slicer.util.loadVolume(str(path))
    assert node.GetName() == "case01"  # QFileInfo::baseName
    assert node.GetStorageNode().GetFileName() == str(path)
    np.testing.assert_allclose(
        _matrix(node), _expected_ijk_to_ras(), rtol=0, atol=1e-6
    )  # NIfTI stores float32
    assert slicer.util.loadVolume(str(path)).GetName() == "case01_1"
    out = tmp_path / "out.nrrd"
    nrrd_source = sitkUtils.PushVolumeToSlicer(image, name="exact")
    assert slicer.util.exportNode(nrrd_source, str(out))
    back = sitk.ReadImage(str(out))
    assert np.array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(image))
    assert back.GetOrigin() == ORIGIN_LPS
    np.testing.assert_allclose(back.GetDirection(), ROT_Z.ravel(), rtol=0, atol=1e-15)
    with pytest.raises(ValueError):
        slicer.util.exportNode(nrrd_source, str(tmp_path / "out.unknownext"))
    with pytest.raises(RuntimeError, match="Failed to load node from file"):
        slicer.util.loadVolume(str(tmp_path / "missing.nrrd"))
    label = slicer.util.loadLabelVolume(str(path))
    assert label.GetClassName() == "vtkMRMLLabelMapVolumeNode"


def test_set_slice_viewer_layers_records_layers():
    volume = slicer.util.addVolumeFromArray(np.zeros((2, 2, 2), np.int16), name="bg")
    label = slicer.util.addVolumeFromArray(
        np.zeros((2, 2, 2), np.uint8), nodeClassName="vtkMRMLLabelMapVolumeNode"
    )
    slicer.util.setSliceViewerLayers(background=volume, label=label.GetID(), labelOpacity=0.5, fit=True)
    layers = slicer.util.slice_viewer_layers
    assert (layers["background"], layers["label"], layers["labelOpacity"], layers["fit"]) == (
        volume.GetID(),
        label.GetID(),
        0.5,
        True,
    )
    for index in range(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLSliceCompositeNode")):
        composite = slicer.mrmlScene.GetNthNodeByClass(index, "vtkMRMLSliceCompositeNode")
        assert composite.GetBackgroundVolumeID() == volume.GetID()


def test_scripted_module_and_table_nodes():
    parameters = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScriptedModuleNode")
    assert parameters.GetParameter("missing") == ""
    assert parameters.GetHideFromEditors() == 1
    table = slicer.util.updateTableFromArray(None, np.array([1.5, 2.5]), "dice")
    assert table.GetTable().GetColumnName(0) == "dice"
    assert np.array_equal(slicer.util.arrayFromTableColumn(table, "dice"), [1.5, 2.5])
