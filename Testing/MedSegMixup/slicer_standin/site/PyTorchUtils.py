"""Stand-in for SlicerPyTorch's ``PyTorchUtils`` module (PyTorchUtils/PyTorchUtils.py, fepegar/SlicerPyTorch
e1c85cc0, 2024-04-24): importable as ``import PyTorchUtils`` once the PyTorch extension is installed.

Same classes, entry points, messages and order of steps as the real module. Differences, all where the
real one depends on light-the-torch's internals: whether light-the-torch is installed is read from the
stand-in's pip record (the real one tries ``import light_the_torch._patch``), the NVIDIA driver is never
found, and the compatible computation backends are ``["cpu"]``. ``PyTorchUtilsWidget`` (built from a
.ui file) is left out.
"""

import logging

import slicer
import standin_config
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleLogic


class PyTorchUtils(ScriptedLoadableModule):
    """The hidden "PyTorch Utils" module (category Utilities)."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "PyTorch Utils"
        self.parent.categories = ["Utilities"]
        self.parent.dependencies = []
        self.parent.contributors = [
            "Fernando Perez-Garcia (University College London and King's College London)",
            "Andras Lasso (PerkLab Queen's University)",
        ]
        self.parent.helpText = "This hidden module containing some tools to work with PyTorch inside Slicer."


class PyTorchUtilsLogic(ScriptedLoadableModuleLogic):
    """PyTorchUtils.py PyTorchUtilsLogic: install and import torch."""

    def __init__(self):
        self._torch = None

    @property
    def nvidiaDriverVersionInformation(self):
        """The real one asks light-the-torch; "" when no driver is found (always, here)."""
        return ""

    @property
    def torchVersionInformation(self):
        if not PyTorchUtilsLogic.torchInstalled():
            return "not installed"
        import torch

        return f"installed version {torch.__version__}"

    @property
    def torchvisionVersionInformation(self):
        if not PyTorchUtilsLogic.torchvisionInstalled():
            return "not installed"
        import torchvision

        return f"installed version {torchvision.__version__}"

    @property
    def torch(self):
        """``torch``, installed WITHOUT asking if missing (importTorch -> installTorch())."""
        if self._torch is None:
            logging.info("Importing torch...")
            self._torch = self.importTorch()
        return self._torch

    @staticmethod
    def torchInstalled():
        """torch's distribution metadata exists and ``import torch`` works."""
        import importlib.metadata

        try:
            [p for p in importlib.metadata.files("torch") if "METADATA" in str(p)][0]  # noqa: RUF015
        except importlib.metadata.PackageNotFoundError:
            return False
        try:
            import torch  # noqa: F401
        except ModuleNotFoundError:
            return False
        return True

    @staticmethod
    def torchvisionInstalled():
        try:
            import torchvision  # noqa: F401
        except ModuleNotFoundError:
            return False
        return True

    def importTorch(self):
        """Import torch, installing it (no confirmation) if necessary; None if not installed."""
        if PyTorchUtilsLogic.torchInstalled():
            import torch
        else:
            torch = self.installTorch()
        if torch is None:
            logging.warning("PyTorch was not installed")
        else:
            logging.info(f"PyTorch {torch.__version__} imported successfully")
            logging.info(f"CUDA available: {torch.cuda.is_available()}")
        return torch

    def installTorch(self, askConfirmation=False, forceComputationBackend=None, torchVersionRequirement=None,
                     torchvisionVersionRequirement=None):
        """Install torch and torchvision with light-the-torch, return ``torch`` (None if the user declines).

        Version requirements are appended verbatim to the names ("torch" + ">=2.2"). The confirmation
        (text only, default window title) is skipped in testing mode
        (``slicer.app.commandOptions().testingEnabled``). Failures raise (CalledProcessError).
        """
        args = PyTorchUtilsLogic._getPipInstallArguments(forceComputationBackend, torchVersionRequirement,
                                                         torchvisionVersionRequirement)
        if askConfirmation and not slicer.app.commandOptions().testingEnabled:
            install = slicer.util.confirmOkCancelDisplay(
                f'PyTorch will be downloaded and installed using light-the-torch (ltt {" ".join(args)}).'
                " The process might take some minutes."
            )
            if not install:
                logging.info("Installation of PyTorch aborted by user")
                return None
        logging.info(f"Install PyTorch using light-the-torch with arguments: {args}")
        if not PyTorchUtilsLogic._lightTheTorchInstalled():
            PyTorchUtilsLogic._installLightTheTorch()
        slicer.util._executePythonModule("light_the_torch", args)
        import torch

        logging.info(f"PyTorch {torch.__version__} installed successfully.")
        return torch

    def uninstallTorch(self, askConfirmation=False, forceComputationBackend=None):
        """``pip_uninstall('torch torchvision')``; the arguments are ignored, as in the real one."""
        slicer.util.pip_uninstall("torch torchvision")
        logging.info("PyTorch uninstalled successfully.")

    @staticmethod
    def _getPipInstallArguments(forceComputationBackend=None, torchVersionRequirement=None,
                                torchvisionVersionRequirement=None):
        args = ["install", "torch" + (torchVersionRequirement or ""),
                "torchvision" + (torchvisionVersionRequirement or "")]
        if forceComputationBackend is not None:
            args.append(f"--pytorch-computation-backend={forceComputationBackend}")
        return args

    @staticmethod
    def _lightTheTorchInstalled():
        # Stand-in for `import light_the_torch._patch` succeeding.
        return "light-the-torch" in standin_config.installed_virtual()

    @staticmethod
    def _installLightTheTorch():
        slicer.util.pip_install("light-the-torch>=0.5")

    @staticmethod
    def getCompatibleComputationBackends(forceComputationBackend=None, torchVersionRequirement=None):
        """Installs light-the-torch if needed, then the backends it finds: no NVIDIA driver here."""
        if not PyTorchUtilsLogic._lightTheTorchInstalled():
            PyTorchUtilsLogic._installLightTheTorch()
        return [forceComputationBackend or "cpu"]

    def getDevice(self):
        """``torch.device('cuda')`` if available, else the string 'cpu' (as the real one returns)."""
        return self.torch.device("cuda") if self.torch.cuda.is_available() else "cpu"

    @property
    def cuda(self):
        return self.getDevice() != "cpu"
