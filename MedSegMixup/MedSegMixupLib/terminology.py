"""Standard terminology (SNOMED CT) for the segments MedSegMixup's models and phantoms produce.

Slicer stores a segment's meaning as a serialized terminology entry (``vtkSegment.SetTerminology``;
format of vtkSlicerTerminologiesModuleLogic::SerializeTerminologyEntry:
``context~category~type~modifier~region context~region~region modifier``, each code as
``scheme^value^meaning``). The codes below are the ones Slicer's own terminology lists carry
(Modules/Loadable/Terminologies/Resources/SegmentationCategoryTypeModifier-SlicerGeneralAnatomy.json
and -DICOM-Master.json). Those lists have no prostate zones, so the zones are coded as Prostate and
keep their zone in the segment name; hippocampus parts likewise as Hippocampus.
"""

from __future__ import annotations

GENERAL_ANATOMY = "Segmentation category and type - 3D Slicer General Anatomy list"
DICOM_MASTER = "Segmentation category and type - DICOM master list"
REGION_CONTEXT = "Anatomic codes - DICOM master list"

ANATOMY = ("SCT", "123037004", "Anatomical Structure")
ALTERED = ("SCT", "49755003", "Morphologically Altered Structure")
KIDNEY = ("SCT", "64033007", "Kidney")
PROSTATE = ("SCT", "41216001", "Prostate")
HIPPOCAMPUS = ("SCT", "5366008", "Hippocampus")
NEOPLASM = ("SCT", "108369006", "Neoplasm")
NECROSIS = ("SCT", "6574001", "Necrosis")
EDEMA = ("SCT", "79654002", "Edema")

Code = tuple[str, str, str]
# normalised segment name -> (context, category, type, anatomic region or None)
ENTRIES: dict[str, tuple[str, Code, Code, Code | None]] = {
    "kidney": (GENERAL_ANATOMY, ANATOMY, KIDNEY, None),
    "tumour": (DICOM_MASTER, ALTERED, NEOPLASM, KIDNEY),
    "tumor": (DICOM_MASTER, ALTERED, NEOPLASM, KIDNEY),
    "prostate": (GENERAL_ANATOMY, ANATOMY, PROSTATE, None),
    "central_gland": (GENERAL_ANATOMY, ANATOMY, PROSTATE, None),
    "peripheral_zone": (GENERAL_ANATOMY, ANATOMY, PROSTATE, None),
    "transition_zone": (GENERAL_ANATOMY, ANATOMY, PROSTATE, None),
    "hippocampus": (DICOM_MASTER, ANATOMY, HIPPOCAMPUS, None),
    "anterior": (DICOM_MASTER, ANATOMY, HIPPOCAMPUS, None),
    "posterior": (DICOM_MASTER, ANATOMY, HIPPOCAMPUS, None),
    "ncr": (GENERAL_ANATOMY, ALTERED, NECROSIS, None),
    "necrosis": (GENERAL_ANATOMY, ALTERED, NECROSIS, None),
    "ed": (GENERAL_ANATOMY, ALTERED, EDEMA, None),
    "oedema": (GENERAL_ANATOMY, ALTERED, EDEMA, None),
    "edema": (GENERAL_ANATOMY, ALTERED, EDEMA, None),
    "et": (DICOM_MASTER, ALTERED, NEOPLASM, None),
    "enhancing": (DICOM_MASTER, ALTERED, NEOPLASM, None),
    "non_enhancing": (DICOM_MASTER, ALTERED, NEOPLASM, None),
    "tc": (DICOM_MASTER, ALTERED, NEOPLASM, None),
    "wt": (DICOM_MASTER, ALTERED, NEOPLASM, None),
}


def _code(code: Code | None) -> str:
    return "^".join(code) if code else "^^"


def serialized_entry(segment_name: str) -> str | None:
    """The terminology string for a segment name (case and spaces ignored), None when unknown."""
    key = segment_name.strip().lower().replace(" ", "_").replace("-", "_")
    entry = ENTRIES.get(key)
    if entry is None:
        return None
    context, category, kind, region = entry
    return "~".join([context, _code(category), _code(kind), "^^", REGION_CONTEXT, _code(region), "^^"])
