"""Model bundles: the one owner of ``model.json``.

A bundle is a folder (or a .zip of one) holding ``model.json`` (``format_version`` 1: the network
and its arguments, the input channels, the labels, the output activation and regions, the
preprocessing, the inference mode, the training recipe and the validation metrics of each
member, i.e. fold, of the ensemble; field list in ``docs/data.md``) and one safetensors file per
member.

* :mod:`.schema`: field names, allowed values, :func:`validate_meta` (every problem named);
* :mod:`.modes`: the one vocabulary of inference modes and its translation to ``patch.mode``;
* :mod:`.output`: the output contract :class:`OutputSpec` (channel meaning, label-map decoding);
* :mod:`.meta`: :func:`parse_meta`, the one parser, into the frozen :class:`BundleMeta`, and
  :func:`build_meta`, the builder training calls;
* :mod:`.store`: folder/zip reading and writing, :class:`ModelBundle`, :func:`load_bundle`.

Importing this package needs neither torch nor SimpleITK (the Slicer module lists bundles before
torch is installed, and ``medsegtrain`` starts fast); they are imported lazily where weights are
read, networks built or preprocessing replayed.
"""

from MedSegTrain.bundle.meta import (
           BundleMeta,
           InferenceSettings,
           MemberInfo,
           NetworkSpec,
           build_meta,
           parse_meta,
)
from MedSegTrain.bundle.output import OutputSpec
from MedSegTrain.bundle.schema import FORMAT_VERSION, MODEL_JSON, validate_meta
from MedSegTrain.bundle.store import (
           ModelBundle,
           load_bundle,
           read_info,
           read_meta,
           safe_zip_names,
           save_bundle,
)

__all__ = ["FORMAT_VERSION", "MODEL_JSON", "BundleMeta", "InferenceSettings", "MemberInfo", "ModelBundle",
           "NetworkSpec", "OutputSpec", "build_meta", "load_bundle", "parse_meta", "read_info", "read_meta",
           "safe_zip_names", "save_bundle", "validate_meta"]
