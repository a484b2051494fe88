"""Stand-in for the ``slicer`` package as seen inside the Slicer application.

Follows Base/Python/slicer/__init__.py (``slicer.modules``/``slicer.moduleNames`` namespaces, ``import vtk``,
the MRML kit classes in the namespace) plus what the running application adds: ``slicer.app``
(qSlicerApplication), ``slicer.mrmlScene``, ``slicer.util`` (Base/Python/slicerqt.py imports it) and
``slicer.ScriptedLoadableModule`` (imported by every scripted module during discovery).
``slicer.packaging`` is a plain submodule: it is bound only once something imports it.

Stand-in helpers for tests (not in Slicer): ``_registerScriptedModule(path)``, ``_registerBuiltinModule``,
``_unloadModules()``.
"""

import standin_config

standin_config.apply()  # must run before anything imports the packages a fresh Slicer lacks

import atexit  # noqa: E402
import getpass  # noqa: E402
import importlib.util  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import types  # noqa: E402

import qt  # noqa: E402
import vtk  # noqa: E402, F401
from PySide6.QtCore import Property, QObject, QProcessEnvironment, QSettings, Signal  # noqa: E402
from PySide6.QtGui import QIcon  # noqa: E402
from PySide6.QtWidgets import QApplication, QMainWindow, QStackedWidget, QToolBar, QVBoxLayout, QWidget  # noqa: E402

# Base/Python/slicer/__init__.py _createModule: slicer.modules and slicer.moduleNames are module objects
modules = types.ModuleType("modules", "This object provides an access to all instantiated Slicer modules.")
moduleNames = types.ModuleType(
    "moduleNames", "This object provides an access to all instantiated module names."
)
sys.modules["slicer.modules"] = modules
sys.modules["slicer.moduleNames"] = moduleNames

from slicer import _mrml  # noqa: E402

for _name in _mrml.__all__:
    if _name.startswith("vtk"):
        globals()[_name] = getattr(_mrml, _name)
del _name


def _const(type_: object, value_of) -> Property:
    """A read-only (CONSTANT) Q_PROPERTY computed by ``value_of(self)``."""
    return Property(type_, value_of, constant=True)


_VERSION = standin_config.SLICER_VERSION
_MAJOR, _MINOR, _PATCH = standin_config.VERSION


@qt.cpp_class
class qSlicerCommandOptions(QObject):
    """Base/QTCore/qSlicerCoreCommandOptions.h + Base/QTGUI/qSlicerCommandOptions.h (no flags given)."""

    testingEnabled = _const(bool, lambda self: False)
    noMainWindow = _const(bool, lambda self: False)
    pythonScript = _const(str, lambda self: "")
    pythonCode = _const(str, lambda self: "")
    disableCLIModules = _const(bool, lambda self: False)
    disableScriptedLoadableModules = _const(bool, lambda self: False)
    additionalModulePaths = _const(list, lambda self: [])
    modulesToIgnore = _const(list, lambda self: [])


@qt.cpp_class
class qSlicerModuleFactoryManager(QObject):
    """Base/QTCore/qSlicerModuleFactoryManager.h: loadedModuleNames()."""

    def loadedModuleNames(self) -> list[str]:
        return list(_MODULES)


@qt.cpp_class
class qSlicerModuleManager(QObject):
    """Base/QTCore/qSlicerModuleManager.h: module(name), factoryManager(), moduleAboutToBeUnloaded."""

    moduleAboutToBeUnloaded = Signal(str)
    moduleLoaded = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        qt.cpp_setattr(self, "_factory", qSlicerModuleFactoryManager(self))

    def module(self, name: str):
        return _MODULES.get(name)

    def factoryManager(self) -> qSlicerModuleFactoryManager:
        return self._factory


@qt.cpp_class
class qSlicerApplication(QApplication):
    """Base/QTGUI/qSlicerApplication.h over Base/QTCore/qSlicerCoreApplication.h: the Q_PROPERTYs a module
    reads, its Q_INVOKABLE methods; ``mainWindow()`` is not invokable there, so it is absent here too
    (slicer.util.mainWindow() finds the window among the top-level widgets)."""

    startupCompleted = Signal()

    def __init__(self, argv: list[str]):
        super().__init__(argv)
        home = tempfile.mkdtemp(prefix="SlicerStandinHome-")
        atexit.register(shutil.rmtree, home, ignore_errors=True)  # the stand-in's private home goes with it
        qt.cpp_setattr(self, "_home", home)
        # qSlicerCoreApplication.cxx: organization, INI settings; the stand-in keeps them in its own home
        self.setOrganizationDomain("slicer.org")
        self.setOrganizationName("slicer.org")
        self.setApplicationName("Slicer")
        self.setApplicationVersion(_VERSION)  # Slicer_MAIN_PROJECT_VERSION_FULL of a release build
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, home)
        qt.cpp_setattr(self, "_settings", QSettings(self))
        qt.cpp_setattr(self, "_commandOptions", qSlicerCommandOptions(self))
        qt.cpp_setattr(self, "_moduleManager", qSlicerModuleManager(self))
        qt.cpp_setattr(self, "_testing", False)
        qt.cpp_setattr(self, "_startupEnvironment", QProcessEnvironment.systemEnvironment())

    # qSlicerCoreApplication.cxx temporaryPath: settings "TemporaryPath" or <tmp>/Slicer-<user>; the
    # stand-in defaults to a directory inside its private home so that processes do not share it
    def _temporaryPath(self) -> str:
        path = self._settings.value("TemporaryPath", os.path.join(self._home, f"Slicer-{getpass.getuser()}"))
        os.makedirs(path, exist_ok=True)
        return path

    def _setTemporaryPath(self, path: str) -> None:
        self._settings.setValue("TemporaryPath", path)

    # qSlicerCoreApplication.cxx documentationBaseUrl / documentationVersion (release build: "Stable")
    def _documentationBaseUrl(self) -> str:
        url = self._settings.value("DocumentationBaseURL", "https://slicer.readthedocs.io/en/{version}")
        return url.replace("{version}", f"v{_MAJOR}.{_MINOR}").replace("{language}", "en")

    slicerHome = _const(str, lambda self: self._home)
    temporaryPath = Property(str, _temporaryPath, _setTemporaryPath)
    cachePath = _const(str, lambda self: os.path.join(self._home, "cache"))
    extensionsInstallPath = _const(str, lambda self: os.path.join(self._home, "Extensions"))
    slicerSharePath = _const(str, lambda self: f"share/Slicer-{_MAJOR}.{_MINOR}")
    slicerUserSettingsFilePath = _const(str, lambda self: self._settings.fileName())
    startupWorkingPath = _const(str, lambda self: os.getcwd())
    intDir = _const(str, lambda self: "")
    isInstalled = _const(bool, lambda self: True)
    releaseType = _const(str, lambda self: "Stable")
    repositoryUrl = _const(str, lambda self: "https://github.com/Slicer/Slicer")
    repositoryBranch = _const(str, lambda self: f"v{_VERSION}")
    repositoryRevision = _const(str, lambda self: "")
    revision = _const(str, lambda self: "")
    majorVersion = _const(int, lambda self: _MAJOR)
    minorVersion = _const(int, lambda self: _MINOR)
    documentationBaseUrl = Property(str, _documentationBaseUrl)
    documentationVersion = _const(str, lambda self: f"v{_MAJOR}.{_MINOR}")
    documentationLanguage = _const(str, lambda self: "en")
    platform = _const(str, lambda self: "linux-amd64")
    arch = _const(str, lambda self: "amd64")
    os = _const(str, lambda self: "linux")
    isCustomMainApplication = _const(bool, lambda self: False)
    mainApplicationName = _const(str, lambda self: "Slicer")
    mainApplicationDisplayName = _const(str, lambda self: "3D Slicer")
    mainApplicationMajorVersion = _const(int, lambda self: _MAJOR)
    mainApplicationMinorVersion = _const(int, lambda self: _MINOR)
    mainApplicationPatchVersion = _const(int, lambda self: _PATCH)
    isUsageLoggingSupported = _const(bool, lambda self: False)

    def testingEnabled(self) -> bool:
        """AA_EnableTesting (--testing): off, as when a user starts Slicer; see ``_setTestingEnabled``."""
        return self._testing

    def _setTestingEnabled(self, enabled: bool) -> None:
        """Stand-in switch for tests emulating ``Slicer --testing``."""
        qt.cpp_setattr(self, "_testing", bool(enabled))

    def commandOptions(self) -> qSlicerCommandOptions:
        return self._commandOptions

    def moduleManager(self) -> qSlicerModuleManager:
        return self._moduleManager

    def mrmlScene(self):
        return mrmlScene

    def userSettings(self) -> QSettings:
        return self._settings

    def settings(self) -> QSettings:
        return self._settings

    def startupEnvironment(self) -> QProcessEnvironment:
        return self._startupEnvironment

    def environment(self) -> QProcessEnvironment:
        return QProcessEnvironment.systemEnvironment()

    def moduleDocumentationUrl(self, moduleName: str) -> str:
        url = self._settings.value(
            "ModuleDocumentationURL", "{documentationbaseurl}/user_guide/modules/{lowercasemodulename}.html"
        )
        return url.replace("{documentationbaseurl}", self.documentationBaseUrl).replace(
            "{lowercasemodulename}", moduleName.lower()
        )

    def layoutManager(self) -> None:
        """The stand-in has no view layout (no slice or 3D views)."""
        return None

    @staticmethod
    def restart() -> None:
        raise RuntimeError("slicer.app.restart(): the stand-in cannot restart the application")


@qt.cpp_class
class qSlicerModuleSelectorToolBar(QToolBar):
    """Base/QTGUI/qSlicerModuleSelectorToolBar.h: selectModule(name) and the selectedModule property."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        qt.cpp_setattr(self, "_selected", "")

    def selectModule(self, moduleName: str) -> None:
        """qSlicerModulePanel::setModule: the previous module widget gets exit(), the new one enter()."""
        module = _MODULES.get(moduleName)
        if module is None:
            print(f"qSlicerModuleSelectorToolBar::selectModule: module {moduleName} not found")
            return
        previous = _MODULES.get(self._selected)
        if previous is not None and previous._widget is not None:
            previous._widget.exit()
        qt.cpp_setattr(self, "_selected", moduleName)
        widget = module.widgetRepresentation()
        if widget is not None:
            panel = _mainWindow.centralWidget()
            if panel.indexOf(widget) < 0:
                panel.addWidget(widget)
            panel.setCurrentWidget(widget)
            widget.enter()

    selectedModule = Property(str, lambda self: self._selected)


@qt.cpp_class
class qSlicerMainWindow(QMainWindow):
    """Base/QTApp/qSlicerMainWindow.h: named "qSlicerMainWindow"; moduleSelector(), a module panel."""

    def __init__(self):
        super().__init__()
        self.setObjectName("qSlicerMainWindow")
        selector = qSlicerModuleSelectorToolBar(self)
        self.addToolBar(selector)
        qt.cpp_setattr(self, "_selector", selector)
        self.setCentralWidget(QStackedWidget(self))
        self.statusBar()

    def moduleSelector(self) -> qSlicerModuleSelectorToolBar:
        return self._selector


# --------------------------------------------------------------------------------------------------
# Modules (Base/QTGUI/qSlicerScriptedLoadableModule*.cxx, Base/QTCore/qSlicerAbstractCoreModule.h)

_MODULES: dict[str, QObject] = {}

from slicer._qmrml import qMRMLWidget  # noqa: E402


@qt.cpp_class
class qSlicerScriptedLoadableModuleWidget(qMRMLWidget):
    """qSlicerScriptedLoadableModuleWidget.cxx: a widget with a QVBoxLayout hosting ``<Name>Widget(self)``."""

    def __init__(self, module: QObject):
        super().__init__()
        QVBoxLayout(self)
        qt.cpp_setattr(self, "_module", module)
        qt.cpp_setattr(self, "_self", None)
        qt.cpp_setattr(self, "_entered", False)

    def setPythonSource(self, filePath: str) -> bool:
        moduleName = os.path.splitext(os.path.basename(filePath))[0]
        className = moduleName + "Widget"
        pythonModule = sys.modules.get(moduleName)
        cls = getattr(pythonModule, className, None)
        if cls is None:
            raise RuntimeError(
                "qSlicerScriptedLoadableModuleWidget::setPythonSource - Failed to load scripted "
                f"loadable module widget: class {className} was not found in {filePath}"
            )
        qt.cpp_setattr(self, "_self", cls(self))
        setattr(modules, className, self._self)
        return True

    def self(self):
        """The Python ``<Name>Widget`` instance."""
        return self._self

    def module(self) -> QObject:
        return self._module

    def setup(self) -> None:
        self._self.setup()

    # qSlicerAbstractModuleWidget.cxx enter()/exit(): the C++ side sets isEntered, then the Python
    # widget's enter()/exit() run (qSlicerScriptedLoadableModuleWidget.cxx)
    def enter(self) -> None:
        qt.cpp_setattr(self, "_entered", True)
        if hasattr(self._self, "enter"):
            self._self.enter()

    def exit(self) -> None:
        qt.cpp_setattr(self, "_entered", False)
        if hasattr(self._self, "exit"):
            self._self.exit()

    moduleName = Property(str, lambda self: self._module.name)
    isEntered = Property(bool, lambda self: self._entered)  # qSlicerAbstractModuleWidget.h Q_PROPERTY


@qt.cpp_class
class qSlicerScriptedLoadableModule(QObject):
    """The ``parent`` a scripted module class receives: its Q_PROPERTYs are set by ``<Name>.__init__``."""

    def __init__(self, path: str):
        super().__init__()
        name = os.path.splitext(os.path.basename(path))[0]
        qt.cpp_setattr(
            self,
            "_state",
            {
                "name": name,
                "path": path,
                "title": name,
                "categories": [],
                "contributors": [],
                "associatedNodeTypes": [],
                "helpText": "",
                "acknowledgementText": "",
                "icon": QIcon(),
                "hidden": False,
                "dependencies": [],
                "index": -1,
                "extensions": {},
            },
        )
        qt.cpp_setattr(self, "_widget", None)
        qt.cpp_setattr(self, "_self", None)

    def _value(key: str, type_: object, writable: bool = True) -> Property:
        def write(self, value: object) -> None:
            self._state[key] = value

        return Property(type_, lambda self: self._state[key], write if writable else None)

    name = _value("name", str, writable=False)
    path = _value("path", str, writable=False)
    title = _value("title", str)
    categories = _value("categories", list)
    contributors = _value("contributors", list)
    associatedNodeTypes = _value("associatedNodeTypes", list)
    helpText = _value("helpText", str)
    acknowledgementText = _value("acknowledgementText", str)
    extensions = _value("extensions", dict)
    icon = _value("icon", QIcon)
    hidden = _value("hidden", bool)
    dependencies = _value("dependencies", list)
    index = _value("index", int)
    isInstalled = _const(bool, lambda self: False)
    isBuiltIn = _const(bool, lambda self: False)
    del _value

    def widgetRepresentation(self) -> qSlicerScriptedLoadableModuleWidget:
        """qSlicerAbstractCoreModule::widgetRepresentation: created once, scene set, then setup()."""
        if self._widget is None:
            qt.cpp_setattr(self, "_widget", self.createNewWidgetRepresentation())
        return self._widget

    def createNewWidgetRepresentation(self) -> qSlicerScriptedLoadableModuleWidget:
        widget = qSlicerScriptedLoadableModuleWidget(self)
        widget.setPythonSource(self.path)
        widget.setMRMLScene(mrmlScene)  # qSlicerAbstractModuleRepresentation::setModule, before setup()
        widget.setup()
        return widget

    def logic(self) -> None:
        """Scripted modules have no C++ logic (slicer.util.getModuleLogic uses the widget's ``logic``)."""
        return None

    def mrmlScene(self):
        return mrmlScene


@qt.cpp_class
class qSlicerAbstractModule(QObject):
    """A built-in (C++) module: a name and, where the stand-in has one, its logic."""

    def __init__(self, name: str, logic: object = None):
        super().__init__()
        qt.cpp_setattr(self, "_state", {"name": name, "logic": logic})

    name = _const(str, lambda self: self._state["name"])
    title = _const(str, lambda self: self._state["name"])
    path = _const(str, lambda self: "")

    def logic(self):
        return self._state["logic"]

    def widgetRepresentation(self) -> None:
        return None


def _registerBuiltinModule(name: str, logic: object = None) -> QObject:
    """Make a C++ module of Slicer known (``slicer.modules.<lowercase name>``)."""
    module = qSlicerAbstractModule(name, logic)
    _MODULES[name] = module
    setattr(modules, name.lower(), module)
    setattr(moduleNames, name, name)
    return module


def _registerScriptedModule(path: str) -> QObject:
    """qSlicerScriptedLoadableModuleFactory + qSlicerScriptedLoadableModule::setPythonSource: add the module
    directory to sys.path, import the file as module ``<Name>``, instantiate ``<Name>(parent)`` and set
    ``slicer.modules.<name>``, ``slicer.modules.<Name>Instance``, ``slicer.moduleNames.<Name>``."""
    path = os.path.abspath(path)
    name = os.path.splitext(os.path.basename(path))[0]
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module = qSlicerScriptedLoadableModule(path)
    spec = importlib.util.spec_from_file_location(name, path)
    pythonModule = importlib.util.module_from_spec(spec)
    sys.modules[name] = pythonModule
    spec.loader.exec_module(pythonModule)
    instance = getattr(pythonModule, name)(module)
    qt.cpp_setattr(module, "_self", instance)
    _MODULES[name] = module
    setattr(modules, name.lower(), module)
    setattr(modules, name + "Instance", instance)
    setattr(moduleNames, name, name)
    if hasattr(instance, "setup"):
        instance.setup()  # qSlicerScriptedLoadableModule::setup calls the Python setup() if defined
    app.moduleManager().moduleLoaded.emit(name)
    return module


def _unloadModules() -> None:
    """Application exit: qSlicerModuleManager emits moduleAboutToBeUnloaded(name) for each module."""
    for name in list(_MODULES):
        app.moduleManager().moduleAboutToBeUnloaded.emit(name)
        _MODULES.pop(name)
        for attribute in (name.lower(), name + "Instance", name + "Widget"):
            if hasattr(modules, attribute):
                delattr(modules, attribute)
        if hasattr(moduleNames, name):
            delattr(moduleNames, name)


# --------------------------------------------------------------------------------------------------
# The running application

app = QApplication.instance() or qSlicerApplication([sys.argv[0] if sys.argv else "Slicer"])
if not isinstance(app, qSlicerApplication):
    raise RuntimeError(
        "a QApplication was created before `import slicer`; in Slicer, slicer.app is the "
        "qSlicerApplication: import slicer first (the in_slicer conftest does)"
    )

mrmlScene = vtkMRMLScene()  # noqa: F821 (bound from _mrml above)
_mrml.add_default_nodes(mrmlScene)

_mainWindow = qSlicerMainWindow()
_mainWindow.show()

_registerBuiltinModule("Data")
_registerBuiltinModule("DICOM")
_registerBuiltinModule("Volumes", _mrml.vtkSlicerVolumesLogic())
_registerBuiltinModule("Segmentations", _mrml.vtkSlicerSegmentationsModuleLogic())
_registerBuiltinModule("SegmentEditor")

import slicer.ScriptedLoadableModule  # noqa: E402 (imported by every scripted module at discovery)
import slicer.util  # noqa: E402, F401 (Base/Python/slicerqt.py)
from slicer._qmrml import qMRMLNodeComboBox, qMRMLWidget  # noqa: E402, F401
