"""Stand-in for Base/Python/slicer/ScriptedLoadableModule.py (Slicer 5.12; 5.10.0 is the same for what is
emulated here): the base classes of a scripted module, its widget, logic and self-test.
"""

import importlib
import logging
import os
import unittest

import ctk
import qt

import slicer
from slicer.i18n import tr as _

__all__ = [
    "ScriptedLoadableModule",
    "ScriptedLoadableModuleLogic",
    "ScriptedLoadableModuleTest",
    "ScriptedLoadableModuleWidget",
]


class ScriptedLoadableModule:
    """Fills the C++ module object ``parent`` with template defaults, sets the icon from
    Resources/Icons/<Name>.svg|.png and registers ``runTest`` in ``slicer.selfTests``."""

    def __init__(self, parent):
        super().__init__()
        self.parent = parent
        self.moduleName = self.__class__.__name__
        parent.title = ""
        parent.categories = []
        parent.dependencies = []
        parent.contributors = ["Andras Lasso (PerkLab, Queen's University), Steve Pieper (Isomics)"]
        parent.helpText = _(
            "\nThis module was created from a template and the help section has not yet been updated.\n"
        )
        parent.acknowledgementText = _(
            "\nThis work is supported by NA-MIC, NAC, BIRN, NCIGT, and the Slicer Community. "
            "See {link} for details.\n"
            "This work is partially supported by PAR-07-249: R01CA131718 NA-MIC Virtual Colonoscopy.\n"
        ).format(link='<a href="https://www.slicer.org">https://www.slicer.org</a>')
        iconDir = os.path.join(os.path.dirname(self.parent.path), "Resources/Icons")
        for extension in (".svg", ".png"):
            iconPath = os.path.join(iconDir, self.moduleName + extension)
            if os.path.isfile(iconPath):
                parent.icon = qt.QIcon(iconPath)
                break
        if not hasattr(slicer, "selfTests"):
            slicer.selfTests = {}
        slicer.selfTests[self.moduleName] = self.runTest

    def resourcePath(self, filename):
        """Absolute path of ``filename`` in the module's ``Resources`` directory."""
        return os.path.join(os.path.dirname(self.parent.path), "Resources", filename)

    def getDefaultModuleDocumentationLink(self, docPage=None):
        url = (
            slicer.app.documentationBaseUrl + docPage
            if docPage
            else slicer.app.moduleDocumentationUrl(self.moduleName)
        )
        return (
            "<p>"
            + _("For more information, see the {url_start}online documentation{url_end}.").format(
                url_start=f'<a href="{url}">', url_end="</a>"
            )
            + "</p>"
        )

    def runTest(self, msec=100, **kwargs):
        """Run ``<Name>Test().runTest(**kwargs)``; a missing test class is an AssertionError."""
        module = importlib.import_module(self.__module__)
        className = self.moduleName + "Test"
        try:
            testCaseClass = getattr(module, className)
        except AttributeError:
            raise AssertionError(f"Test case class not found: {self.__module__}.{className} ") from None
        testCase = testCaseClass()
        testCase.messageDelay = msec
        testCase.runTest(**kwargs)


class ScriptedLoadableModuleWidget:
    """Module GUI. ``parent`` is the module panel's widget (a layout already set); without a parent a
    top-level qMRMLWidget is created, ``setup()`` is called and it is shown."""

    def __init__(self, parent=None):
        super().__init__()
        self.moduleName = self.__class__.__name__
        if self.moduleName.endswith("Widget"):
            self.moduleName = self.moduleName[:-6]
        self.developerMode = slicer.util.settingsValue(
            "Developer/DeveloperMode", False, converter=slicer.util.toBool
        )
        if not parent:
            self.parent = slicer.qMRMLWidget()
            self.parent.setLayout(qt.QVBoxLayout())
            self.parent.setMRMLScene(slicer.mrmlScene)
        else:
            self.parent = parent
        self.layout = self.parent.layout()
        if not parent:
            self.setup()
            self.parent.show()
        slicer.app.moduleManager().connect(
            "moduleAboutToBeUnloaded(QString)", self._onModuleAboutToBeUnloaded
        )

    def resourcePath(self, filename):
        """Absolute path of ``filename`` in the module's ``Resources`` directory (via modulePath)."""
        return os.path.join(os.path.dirname(slicer.util.modulePath(self.moduleName)), "Resources", filename)

    def cleanup(self):
        """Called when the module is about to be unloaded (application exit)."""

    def _onModuleAboutToBeUnloaded(self, moduleName):
        if moduleName == self.moduleName:
            self.cleanup()
            slicer.app.moduleManager().disconnect(
                "moduleAboutToBeUnloaded(QString)", self._onModuleAboutToBeUnloaded
            )

    def setupDeveloperSection(self):
        """The "Reload & Test" section, only in developer mode (setting Developer/DeveloperMode)."""
        if not self.developerMode:
            return
        self.reloadCollapsibleButton = ctk.ctkCollapsibleButton()
        self.reloadCollapsibleButton.text = "Reload && Test"
        self.layout.addWidget(self.reloadCollapsibleButton)
        reloadFormLayout = qt.QFormLayout(self.reloadCollapsibleButton)
        self.reloadButton = qt.QPushButton("Reload")
        self.reloadButton.toolTip = "Reload this module."
        self.reloadButton.name = "ScriptedLoadableModuleTemplate Reload"
        self.reloadButton.connect("clicked()", self.onReload)
        self.reloadTestMenu = qt.QMenu()
        self.testAction = qt.QAction("Test", self.reloadTestMenu)
        self.testAction.setObjectName("TestAction")
        self.testAction.triggered.connect(self.onTest)
        self.reloadTestMenu.addAction(self.testAction)
        self.reloadTestAction = qt.QAction("Reload and Test", self.reloadTestMenu)
        self.reloadTestAction.setObjectName("ReloadTestAction")
        self.reloadTestAction.triggered.connect(self.onReloadAndTest)
        self.reloadTestMenu.addAction(self.reloadTestAction)
        self.reloadTestMenuButton = qt.QToolButton()
        self.reloadTestMenuButton.toolTip = "Test or Reload & Test"
        self.reloadTestMenuButton.name = "ScriptedLoadableModuleTemplate Testing"
        self.reloadTestMenuButton.setMenu(self.reloadTestMenu)
        self.reloadTestMenuButton.setDefaultAction(self.reloadTestAction)
        self.editSourceButton = qt.QPushButton("Edit")
        self.restartButton = qt.QPushButton("Restart Slicer")
        self.restartButton.name = "ScriptedLoadableModuleTemplate Restart"
        row = qt.QHBoxLayout()
        for button in (
            self.reloadButton,
            self.reloadTestMenuButton,
            self.editSourceButton,
            self.restartButton,
        ):
            row.addWidget(button)
        reloadFormLayout.addRow(row)

    def setup(self):
        self.setupDeveloperSection()

    def onReload(self):
        slicer.util.reloadScriptedModule(self.moduleName)

    def _selfTestDelay(self):
        # Developer/SelfTestDisplayMessageDelay (the settings panel's default is 100 ms)
        return int(slicer.app.userSettings().value("Developer/SelfTestDisplayMessageDelay", 100))

    def onTest(self, **kwargs):
        with slicer.util.tryWithErrorDisplay("Test failed."):
            slicer.selfTests[self.moduleName](msec=self._selfTestDelay(), **kwargs)

    def onReloadAndTest(self, **kwargs):
        with slicer.util.tryWithErrorDisplay("Reload and Test failed."):
            self.onReload()
            slicer.selfTests[self.moduleName](msec=self._selfTestDelay(), **kwargs)


class ScriptedLoadableModuleLogic:
    """Module logic; ``getParameterNode`` finds or creates the module's vtkMRMLScriptedModuleNode."""

    def __init__(self, parent=None):
        super().__init__()
        self.moduleName = self.__class__.__name__
        if self.moduleName.endswith("Logic"):
            self.moduleName = self.moduleName[:-5]
        self.isSingletonParameterNode = True

    def getParameterNode(self):
        """Singleton: the scene's vtkMRMLScriptedModuleNode with singleton tag <moduleName> (its ModuleName
        attribute restored after a scene close); otherwise the first one whose ModuleName attribute is
        the module name; none found: ``createParameterNode()`` is added to the scene."""
        scene = slicer.mrmlScene
        if self.isSingletonParameterNode:
            parameterNode = scene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
            if parameterNode:
                if parameterNode.GetAttribute("ModuleName") != self.moduleName:
                    parameterNode.SetAttribute("ModuleName", self.moduleName)
                return parameterNode
        else:
            for index in range(scene.GetNumberOfNodesByClass("vtkMRMLScriptedModuleNode")):
                parameterNode = scene.GetNthNodeByClass(index, "vtkMRMLScriptedModuleNode")
                if parameterNode.GetAttribute("ModuleName") == self.moduleName:
                    return parameterNode
        return scene.AddNode(self.createParameterNode())

    def getAllParameterNodes(self):
        scene = slicer.mrmlScene
        nodes = (
            scene.GetNthNodeByClass(i, "vtkMRMLScriptedModuleNode")
            for i in range(scene.GetNumberOfNodesByClass("vtkMRMLScriptedModuleNode"))
        )
        return [node for node in nodes if node.GetAttribute("ModuleName") == self.moduleName]

    def createParameterNode(self):
        """A new vtkMRMLScriptedModuleNode: singleton tag, ModuleName attribute, unique name."""
        if slicer.mrmlScene is None:
            return None
        node = slicer.mrmlScene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
        node.UnRegister(None)
        if self.isSingletonParameterNode:
            node.SetSingletonTag(self.moduleName)
        node.SetAttribute("ModuleName", self.moduleName)
        node.SetName(slicer.mrmlScene.GenerateUniqueName(self.moduleName))
        return node


class ScriptedLoadableModuleTest(unittest.TestCase):
    """Self-test base: ``runTest()`` runs every callable attribute whose name contains "test" (in dir()
    order), each between setUp() and tearDown(), with setUpClass()/tearDownClass() around them."""

    def __init__(self, *args, **kwargs):
        self.moduleTestNames = []
        super().__init__(*args, **kwargs)
        super(unittest.TestCase, self).__init__()
        self.enableScreenshots = False
        self.screenshotScaleFactor = 1.0
        if not self.moduleTestNames:
            self.moduleTestNames = [
                name for name in dir(self) if "test" in name and callable(getattr(self, name))
            ]

    def delayDisplay(self, message, requestedDelay=None, msec=None):
        """slicer.util.delayDisplay with ``messageDelay`` (set by runTest), else msec, requestedDelay, 100."""
        if hasattr(self, "messageDelay"):
            msec = self.messageDelay
        if msec is None:
            msec = requestedDelay
        if msec is None:
            msec = 100
        slicer.util.delayDisplay(message, msec)

    def takeScreenshot(self, name, description, type=-1):
        """Only the message is shown: the stand-in has no views to capture."""
        self.delayDisplay(description)

    def setUp(self):
        return

    def tearDown(self):
        return

    def runTest(self):
        if len(self.moduleTestNames) == 0:
            logging.warning("No test is defined in " + self.__class__.__name__)
            return
        self.setUpClass()
        for testName in self.moduleTestNames:
            self.setUp()
            logging.info(f"Running {testName}")
            getattr(self, testName)()
            self.tearDown()
        self.tearDownClass()
