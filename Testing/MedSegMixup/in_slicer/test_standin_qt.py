"""Fidelity tests of the qt / ctk / slicer.app / ScriptedLoadableModule stand-in (inside a stand-in process).

Expected behaviour is read from PythonQt (src/PythonQtClassInfo.cpp, PythonQtInstanceWrapper.cpp,
PythonQtSignalReceiver.cpp, PythonQtSignal.cpp) and Slicer (Base/Python/slicer/*.py, Base/QTCore,
Libs/MRML/Widgets/qMRMLNodeComboBox.cxx); values are checked against PySide's class-level methods,
which the PythonQt emulation does not touch.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
import warnings

import ctk
import pytest
import qt
import slicer
import standin_config
import vtk
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleLogic
from slicer.util import VTKObservationMixin

pytestmark = pytest.mark.gui


# --------------------------------------------------------------------------------------------------
# properties read as values (PythonQtClassInfo::member: property before method)


def test_property_names_read_as_values_and_calling_them_fails():
    table = qt.QTableWidget()
    with pytest.raises(TypeError, match="QSize' object is not callable"):
        table.sizeHint()
    assert table.sizeHint.height() == qt.QTableWidget.sizeHint(table).height()  # value class keeps methods
    combo = qt.QComboBox()
    combo.addItems(["a", "b"])
    assert type(combo.currentIndex) is int and combo.currentIndex == 0
    assert combo.currentText == "a"
    spin = qt.QSpinBox()
    assert spin.maximum == 99  # QSpinBox's documented default range 0..99
    with pytest.raises(TypeError):
        spin.value()
    label = qt.QLabel("hello")
    with pytest.raises(TypeError, match="'str' object is not callable"):
        label.text()


def test_assigning_a_property_name_sets_the_property():
    edit, button, spin, combo = qt.QLineEdit(), qt.QPushButton(), qt.QSpinBox(), qt.QComboBox()
    combo.addItems(["a", "b", "c"])
    edit.text = "x"
    button.enabled = False
    spin.value = 7
    combo.currentIndex = 2
    assert qt.QLineEdit.text(edit) == "x"
    assert qt.QWidget.isEnabled(button) is False
    assert qt.QSpinBox.value(spin) == 7
    assert qt.QComboBox.currentText(combo) == "c"
    with pytest.raises(AttributeError, match="Property 'sizeHint' of QLineEdit object is not writable"):
        edit.sizeHint = qt.QSize(1, 1)


def test_objects_returned_by_qt_methods_follow_the_same_rules():
    table = qt.QTableWidget()
    header = table.horizontalHeader()
    assert header.stretchLastSection is False
    header.stretchLastSection = True
    assert qt.QHeaderView.stretchLastSection(header) is True
    with pytest.raises(TypeError):
        header.stretchLastSection()


def test_name_is_object_name_and_children_are_attributes():
    # PYTHONQT_SUPPORT_NAME_PROPERTY; PythonQtInstanceWrapper_getattro looks up children by objectName last
    parent = qt.QWidget()
    child = qt.QLabel(parent)
    child.name = "statusLabel"
    assert qt.QObject.objectName(child) == "statusLabel"
    assert parent.statusLabel is child
    with pytest.raises(AttributeError, match="QWidget has no attribute named 'missing'"):
        parent.missing  # noqa: B018


def test_cpp_objects_refuse_new_attributes_and_methods_cannot_be_overwritten():
    button = qt.QPushButton()
    with pytest.raises(AttributeError, match="creating new attributes on C\\+\\+ objects is not allowed"):
        button.userData = 1
    with pytest.raises(AttributeError, match="Slot 'show' can not be overwritten on QPushButton object"):
        button.show = None
    with pytest.raises(AttributeError, match="Signal 'clicked' can not be overwritten"):
        button.clicked = None


def test_python_subclasses_methods_first_attributes_allowed_qt_names_protected():
    class Panel(qt.QWidget):
        def __init__(self):
            super().__init__()
            self.counter = 3  # a new attribute: allowed on a Python subclass

        def width(self):  # a Python method wins over the Qt property of the same name
            return "python"

    panel = Panel()
    assert panel.counter == 3
    assert panel.width() == "python"
    panel.enabled = False  # a Qt property: set on the C++ object, not in the instance dict
    assert qt.QWidget.isEnabled(panel) is False and "enabled" not in panel.__dict__
    with pytest.raises(AttributeError, match="Slot 'layout' can not be overwritten on Panel object"):
        panel.layout = qt.QVBoxLayout()


def test_timer_single_shot_stays_the_static_method():
    timer = qt.QTimer()
    assert timer.interval == 0
    assert callable(timer.singleShot)  # PythonQtClassInfo skips QTimer's singleShot property
    fired = []
    qt.QTimer.singleShot(0, lambda: fired.append(True))
    for _ in range(20):
        slicer.app.processEvents()
    assert fired == [True]


def test_no_signal_slot_property_and_no_qthread():
    assert not any(hasattr(qt, name) for name in ("Signal", "Slot", "Property", "pyqtSignal"))
    with pytest.raises(RuntimeError, match="PythonQt runs Python in the main thread only"):
        qt.QThread()

    class Worker(qt.QThread):
        def run(self):
            pass

    with pytest.raises(RuntimeError):
        Worker()
    assert qt.QThread.currentThread() == slicer.app.thread()


# --------------------------------------------------------------------------------------------------
# signals (PythonQtSignalReceiver.cpp: a Python function receives at most co_argcount arguments)


def test_signal_arguments_are_cut_to_the_function_parameters():
    table = qt.QTableWidget(2, 2)
    got = []

    def none():
        got.append("none")

    def row_only(row):
        got.append(("row", row))

    def with_default(row, column=None):  # defaults count: co_argcount is 2
        got.append(("default", row, column))

    class Receiver:
        def method(self, row):
            got.append(("method", row))

    for receiver in (
        none,
        row_only,
        with_default,
        Receiver().method,
        lambda *args: got.append(("var", args)),
        functools.partial(lambda *args: got.append(("partial", args))),
    ):
        assert table.cellChanged.connect(receiver) is True
    table.setItem(1, 0, qt.QTableWidgetItem("x"))
    table.item(1, 0).setText("y")
    assert got[-6:] == [
        "none",
        ("row", 1),
        ("default", 1, 0),
        ("method", 1),
        ("var", (1, 0)),
        ("partial", (1, 0)),
    ]


def test_first_overload_string_signatures_and_disconnect():
    button = qt.QPushButton()
    got = []

    def checked(value):
        got.append(("checked", value))

    def nothing(*args):
        got.append(("nothing", args))

    assert button.clicked.connect(checked)  # clicked(bool) is declared before clicked()
    assert button.connect("clicked()", nothing)
    assert not button.connect("noSuchSignal()", nothing)
    button.click()
    assert got == [("checked", False), ("nothing", ())]
    assert button.clicked.disconnect(checked) is True
    assert button.disconnect("clicked()", nothing) is True
    got.clear()
    button.click()
    assert got == []


def test_slot_exceptions_are_printed_not_raised_to_the_emitter():
    button = qt.QPushButton()

    def broken():
        raise ValueError("boom")

    button.clicked.connect(broken)
    button.click()  # does not raise, as PythonQt::handleError only prints
    assert len(qt.slotErrors) == 1 and "ValueError: boom" in qt.slotErrors[0]
    qt.slotErrors.clear()


# --------------------------------------------------------------------------------------------------
# dialogs


def test_static_dialogs_return_the_value_only(dialogs):
    dialogs.answer("/data/case1.nii.gz")
    dialogs.answer(["/a.nii", "/b.nii"], kind="QFileDialog.getOpenFileNames")
    dialogs.answer("/out")
    assert qt.QFileDialog.getOpenFileName(None, "Open volume", "", "*.nii.gz") == "/data/case1.nii.gz"
    assert qt.QFileDialog.getOpenFileNames(None, "Open volumes") == ["/a.nii", "/b.nii"]
    assert qt.QFileDialog.getExistingDirectory(None, "Output folder") == "/out"
    assert [(d.kind, d.title) for d in dialogs.shown] == [
        ("QFileDialog.getOpenFileName", "Open volume"),
        ("QFileDialog.getOpenFileNames", "Open volumes"),
        ("QFileDialog.getExistingDirectory", "Output folder"),
    ]


def test_unanswered_dialog_fails_loudly(dialogs):
    box = qt.QMessageBox()
    box.text = "Really?"
    with pytest.raises(qt.UnexpectedDialogError, match="Really"):
        box.exec_()
    assert dialogs.unexpected[0].kind == "QMessageBox.exec"
    dialogs.reset()


def test_display_functions_follow_testing_mode_and_scripted_answers(dialogs):
    # util.py confirmOkCancelDisplay: title "<applicationName> confirmation", True only for Ok
    dialogs.answer(qt.QMessageBox.Ok)
    dialogs.answer(qt.QMessageBox.Cancel)
    assert slicer.util.confirmOkCancelDisplay("Install?") is True
    assert slicer.util.confirmOkCancelDisplay("Install?") is False
    assert dialogs.shown[0].title == "Slicer confirmation"
    assert dialogs.shown[0].details["standardButtons"] == qt.QMessageBox.Ok | qt.QMessageBox.Cancel
    dialogs.answer(qt.QMessageBox.Ok)
    slicer.util.errorDisplay("Failed", detailedText="trace")
    assert (dialogs.shown[-1].title, dialogs.shown[-1].details["icon"]) == (
        "Slicer error",
        qt.QMessageBox.Critical,
    )
    slicer.app._setTestingEnabled(True)  # Slicer --testing: no popup, the testing return values...
    # ...which util.py then compares with the button: True == QMessageBox.Yes is False, so despite the
    # docstrings ("True is returned") the confirm functions return False in testing mode
    assert slicer.util.confirmYesNoDisplay("Go?") is False
    assert slicer.util.confirmOkCancelDisplay("Go?") is False
    assert slicer.util.confirmRetryCloseDisplay("Retry?") is False
    assert len(dialogs.shown) == 3


def test_delay_display_and_try_with_error_display(dialogs):
    slicer.util.delayDisplay("quick", 100)  # below 400 ms: only processEvents
    slicer.util.delayDisplay("visible")
    assert [(d.kind, d.text) for d in dialogs.shown] == [("delayDisplay", "visible")]
    dialogs.answer(qt.QMessageBox.Ok)
    with pytest.raises(ZeroDivisionError), slicer.util.tryWithErrorDisplay("Computation failed."):
        1 / 0  # noqa: B018
    assert dialogs.shown[-1].text == "Computation failed.\n\ndivision by zero"


# --------------------------------------------------------------------------------------------------
# application, util helpers


def test_application_properties_and_version():
    major, minor, patch = standin_config.VERSION
    assert (slicer.app.majorVersion, slicer.app.minorVersion) == (major, minor)
    assert slicer.app.mainApplicationPatchVersion == patch
    assert slicer.app.applicationVersion == standin_config.SLICER_VERSION
    assert not hasattr(slicer.app, "patchVersion")  # qSlicerCoreApplication.h has no such property
    with pytest.raises(TypeError):
        slicer.app.majorVersion()
    assert slicer.app.documentationBaseUrl == f"https://slicer.readthedocs.io/en/v{major}.{minor}"
    assert slicer.app.moduleDocumentationUrl("MedSegMixup").endswith("/user_guide/modules/medsegmixup.html")
    assert os.path.isdir(slicer.app.temporaryPath)
    assert slicer.util.tempDirectory(includeDateTime=False).startswith(slicer.app.temporaryPath)
    assert slicer.util.mainWindow().objectName == "qSlicerMainWindow"
    assert qt.QApplication.instance() is slicer.app


def test_util_toolbox_values_from_the_docstrings():
    assert [slicer.util.toBool(x) for x in ["-2", "0", "1", "Hello", "tRue", "fAlse"]] == [
        True,
        False,
        True,
        False,
        True,
        False,
    ]
    assert slicer.util.toBool(None) is False
    settings = qt.QSettings()
    settings.setValue("StandinTest/Flag", "true")
    assert slicer.util.settingsValue("StandinTest/Flag", False, converter=slicer.util.toBool) is True
    assert slicer.util.settingsValue("StandinTest/Missing", 5, converter=str) == 5  # default not converted
    settings.remove("StandinTest")
    panel = qt.QWidget()
    qt.QPushButton("Run", panel).name = "runButton"
    assert slicer.util.findChild(panel, "runButton").text == "Run"
    assert [w.text for w in slicer.util.findChildren(panel, text="R*")] == ["Run"]
    with pytest.raises(RuntimeError, match=r"Widget with name='nothing' does not exist\."):
        slicer.util.findChild(panel, "nothing")


def test_packaging_is_bound_only_once_imported():
    code = (
        "import slicer, sys\nprint(hasattr(slicer, 'packaging'), 'slicer.packaging' in sys.modules)\n"
        "try:\n import slicer.packaging\nexcept ImportError:\n print('ImportError')\n"
        "else:\n print(hasattr(slicer, 'packaging'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = result.stdout.split()
    assert lines[:2] == ["False", "False"], result.stderr
    assert lines[2] == ("True" if standin_config.version_at_least(5, 12) else "ImportError")


# --------------------------------------------------------------------------------------------------
# ScriptedLoadableModule


def test_parameter_node_is_a_singleton_found_again(scene):
    class MySegLogic(ScriptedLoadableModuleLogic):
        pass

    logic = MySegLogic()
    first = logic.getParameterNode()
    assert logic.getParameterNode() is first
    assert (first.GetSingletonTag(), first.GetAttribute("ModuleName"), first.GetName()) == ("MySeg",) * 3
    assert first.IsA("vtkMRMLScriptedModuleNode") and first.GetHideFromEditors()
    first.RemoveAttribute("ModuleName")  # a scene close may drop it: getParameterNode restores it
    assert logic.getParameterNode() is first and first.GetAttribute("ModuleName") == "MySeg"
    assert scene.GetNumberOfNodesByClass("vtkMRMLScriptedModuleNode") == 1


def test_non_singleton_parameter_nodes_are_found_by_attribute(scene):
    logic = ScriptedLoadableModuleLogic()
    logic.isSingletonParameterNode = False
    node = logic.getParameterNode()
    assert node.GetSingletonTag() is None and logic.getParameterNode() is node
    assert logic.getAllParameterNodes() == [node]


def test_scripted_module_discovery_widget_lifecycle(tmp_path, scene):
    source = textwrap.dedent("""
        import slicer
        from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleWidget
        calls = []
        class StandinProbe(ScriptedLoadableModule):
            def __init__(self, parent):
                ScriptedLoadableModule.__init__(self, parent)
                parent.title = "Standin probe"
                parent.categories = ["Testing"]
        class StandinProbeWidget(ScriptedLoadableModuleWidget):
            def setup(self):
                ScriptedLoadableModuleWidget.setup(self)
                calls.append(("setup", self.parent.mrmlScene() is slicer.mrmlScene))
                self.layout.addWidget(slicer.qMRMLNodeComboBox())
            def enter(self):
                calls.append("enter")
            def exit(self):
                calls.append("exit")
            def cleanup(self):
                calls.append("cleanup")
    """)
    path = tmp_path / "StandinProbe.py"
    path.write_text(source)
    module = slicer._registerScriptedModule(str(path))
    try:
        probe = sys.modules["StandinProbe"]
        assert slicer.modules.standinprobe is module and module.path == str(path)
        assert module.title == "Standin probe" and module.categories == ["Testing"]
        assert slicer.util.modulePath("StandinProbe") == str(path)
        assert "StandinProbe" in slicer.util.moduleNames()
        slicer.util.selectModule("StandinProbe")
        slicer.util.selectModule("Data")
        widget = slicer.util.getModuleWidget("StandinProbe")
        assert isinstance(widget, probe.StandinProbeWidget) and slicer.modules.StandinProbeWidget is widget
        assert widget.resourcePath("Icons/x.png") == str(tmp_path / "Resources" / "Icons/x.png")
        assert probe.calls == [("setup", True), "enter", "exit"]
        assert slicer.util.selectedModule() == "Data"
    finally:
        slicer._unloadModules()
        slicer._registerBuiltinModule("Data")
        slicer._registerBuiltinModule("DICOM")
    assert probe.calls[-1] == "cleanup"


# --------------------------------------------------------------------------------------------------
# VTKObservationMixin


def test_vtk_observation_mixin_semantics():
    class Observer(VTKObservationMixin):
        def __init__(self):
            VTKObservationMixin.__init__(self)
            self.order = []

        def low(self, caller, event):
            self.order.append("low")

        def high(self, caller, event):
            self.order.append("high")

    observer, obj = Observer(), vtk.vtkObject()
    observer.addObserver(obj, vtk.vtkCommand.ModifiedEvent, observer.low, priority=0.0)
    observer.addObserver(obj, vtk.vtkCommand.ModifiedEvent, observer.high, group="g", priority=1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        observer.addObserver(obj, vtk.vtkCommand.ModifiedEvent, observer.low)
        observer.removeObserver(obj, vtk.vtkCommand.StartEvent, observer.low)
    assert [str(w.message) for w in caught] == ["already has observer", "does not have observer"]
    obj.Modified()
    assert observer.order == ["high", "low"]  # VTK calls higher priority first
    group, _tag, priority = observer.getObserver(obj, vtk.vtkCommand.ModifiedEvent, observer.high)
    assert (group, priority) == ("g", 1.0)
    assert observer.observer(vtk.vtkCommand.ModifiedEvent, observer.low) is obj
    observer.removeObservers(observer.high)
    assert not observer.hasObserver(obj, vtk.vtkCommand.ModifiedEvent, observer.high)
    observer.order.clear()
    obj.Modified()
    assert observer.order == ["low"]
    observer.removeObservers()
    assert observer.Observations == []


# --------------------------------------------------------------------------------------------------
# ctk and qMRML widgets


def test_collapsible_button_properties():
    button = ctk.ctkCollapsibleButton()
    button.text = "Inputs"
    content = qt.QLabel("inside")
    qt.QFormLayout(button).addRow(content)
    collapsed = []
    button.contentsCollapsed.connect(collapsed.append)
    assert (button.text, button.collapsed, button.checked) == ("Inputs", False, True)
    button.collapsed = True
    assert button.checked is False and content.isHidden() and collapsed == [True]
    with pytest.raises(AttributeError, match="creating new attributes"):
        button.userData = 1


def test_node_combobox_follows_the_scene(scene):
    combo = slicer.qMRMLNodeComboBox()
    combo.nodeTypes = ["vtkMRMLScalarVolumeNode"]
    combo.setMRMLScene(scene)
    events = []
    combo.currentNodeChanged.connect(lambda node: events.append(node))  # first overload: the node
    combo.connect("currentNodeChanged(bool)", lambda valid: events.append(valid))
    first = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    assert combo.currentNode() is first and events == [first, True]  # noneEnabled off: auto-selected
    second = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "CT")  # a child type, same name
    hidden = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "hidden")
    hidden.SetHideFromEditors(1)
    assert combo.nodes() == [first, second] and combo.currentNode() is first
    assert combo.currentNodeID == first.GetID()
    with pytest.raises(TypeError):
        combo.currentNodeID()
    combo.showHidden = True
    assert combo.nodeCount() == 3
    events.clear()
    combo.setCurrentNode(second)
    second.SetName("CT renamed")  # the current item's text changes: currentNodeChanged again
    assert events == [second, True, second, True]
    scene.RemoveNode(second)  # the current node goes: QComboBox selects the item now in its place
    assert combo.currentNode() is hidden


def test_node_combobox_none_item_and_attribute_filter(scene):
    combo = slicer.qMRMLNodeComboBox()
    combo.nodeTypes = ["vtkMRMLScalarVolumeNode"]
    combo.noneEnabled = True
    combo.addAttribute("vtkMRMLScalarVolumeNode", "Role", "input")
    combo.setMRMLScene(scene)
    other = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "other")
    tagged = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "tagged")
    tagged.SetAttribute("Role", "input")
    assert combo.nodes() == [tagged] and other not in combo.nodes()
    assert combo.currentNode() is None  # the "None" item stays current
    combo.setCurrentNodeID(tagged.GetID())
    assert combo.currentNode() is tagged
    combo.setCurrentNodeID("vtkMRMLScalarVolumeNodeUnknown")
    assert combo.currentNode() is None
