"""De-identification of DICOM datasets: the Basic Application Level Confidentiality Profile.

PS3.15 Annex E, Table E.1-1, as it applies to images shared for a consultation: the
attributes that name or point to the patient, the people who treated them, the
institution, the device and the dates are removed (``X``) or emptied (``Z``); every UID
that identifies an instance, series, study or frame of reference is replaced (``U``),
consistently within one :class:`UidMap` (two slices of a series still share a series
UID, which cannot be traced back); private tags, overlays and curves are removed. Past
the table, any attribute left that holds a person's name (VR ``PN``), a date or time
(``DA``, ``DT``, ``TM``), or an instance UID is removed or replaced as well, so an
attribute the table here does not list cannot leak either.

The session never sends a DICOM file (only the windowed picture and a description):
this is for what is kept with the case and for the description, which is made from the
de-identified dataset only.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import secrets
from typing import Final

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

#: Table E.1-1 attributes: keyword -> action (X remove, Z empty, U replace the UID).
PROFILE: Final[dict[str, str]] = {
    # the patient
    "PatientName": "Z", "PatientID": "Z", "PatientBirthDate": "Z", "PatientSex": "Z",
    "PatientBirthTime": "X", "PatientAge": "X", "PatientSize": "X", "PatientWeight": "X",
    "PatientAddress": "X", "OtherPatientIDs": "X", "OtherPatientNames": "X",
    "OtherPatientIDsSequence": "X", "PatientBirthName": "X", "PatientMotherBirthName": "X",
    "MilitaryRank": "X", "BranchOfService": "X", "MedicalRecordLocator": "X",
    "MedicalAlerts": "X", "Allergies": "X", "CountryOfResidence": "X",
    "RegionOfResidence": "X", "PatientTelephoneNumbers": "X", "EthnicGroup": "X",
    "Occupation": "X", "SmokingStatus": "X", "PregnancyStatus": "X",
    "LastMenstrualDate": "X", "PatientReligiousPreference": "X", "PatientComments": "X",
    "AdditionalPatientHistory": "X", "IssuerOfPatientID": "X", "PatientState": "X",
    "PatientInsurancePlanCodeSequence": "X", "ResponsiblePerson": "X",
    "ResponsibleOrganization": "X", "PatientSexNeutered": "X",
    "PatientTransportArrangements": "X",
    "PatientPrimaryLanguageCodeSequence": "X", "AdmissionID": "X",
    "AdmittingDiagnosesDescription": "X",
    "AdmittingDiagnosesCodeSequence": "X", "AdmittingDate": "X", "AdmittingTime": "X",
    "ReferencedPatientSequence": "X", "ReferencedPatientPhotoSequence": "X",
    "PatientIdentityRemoved": "X", "ClinicalTrialSubjectID": "X",
    # people who treated them
    "ReferringPhysicianName": "Z", "ReferringPhysicianAddress": "X",
    "ReferringPhysicianTelephoneNumbers": "X", "ReferringPhysicianIdentificationSequence": "X",
    "ConsultingPhysicianName": "X", "PhysiciansOfRecord": "X",
    "PhysiciansOfRecordIdentificationSequence": "X", "PerformingPhysicianName": "X",
    "PerformingPhysicianIdentificationSequence": "X", "NameOfPhysiciansReadingStudy": "X",
    "PhysiciansReadingStudyIdentificationSequence": "X", "OperatorsName": "X",
    "OperatorIdentificationSequence": "X", "RequestingPhysician": "X",
    "ScheduledPerformingPhysicianName": "X", "VerifyingObserverName": "X",
    "PersonName": "X", "PersonAddress": "X", "PersonTelephoneNumbers": "X",
    "ContentCreatorName": "X", "ReviewerName": "X", "TextString": "X", "TextComments": "X",
    # the institution and the device
    "InstitutionName": "X", "InstitutionAddress": "X", "InstitutionalDepartmentName": "X",
    "InstitutionCodeSequence": "X", "StationName": "X", "DeviceSerialNumber": "X",
    "DetectorID": "X", "GantryID": "X", "SourceApplicationEntityTitle": "X",
    "PerformedStationAETitle": "X", "ScheduledStationAETitle": "X",
    "PerformedLocation": "X", "ScheduledProcedureStepLocation": "X",
    # the visit, the order and free text that may name anyone
    "AccessionNumber": "Z", "StudyID": "Z", "StudyDescription": "X",
    "SeriesDescription": "X", "ImageComments": "X", "DerivationDescription": "X",
    "RequestedProcedureDescription": "X", "PerformedProcedureStepDescription": "X",
    "PerformedProcedureStepID": "X", "RequestedProcedureID": "X",
    "ScheduledProcedureStepID": "X", "ProtocolName": "X", "ReasonForStudy": "X",
    "ReasonForTheRequestedProcedure": "X", "RequestAttributesSequence": "X",
    "ReferencedStudySequence": "X", "ReferencedPerformedProcedureStepSequence": "X",
    "FillerOrderNumberImagingServiceRequest": "X",
    "PlacerOrderNumberImagingServiceRequest": "X", "ContentSequence": "X",
    "IdentifyingComments": "X", "InterpretationText": "X", "ImagingServiceRequestComments": "X",
    "RequestedProcedureComments": "X", "ServiceEpisodeID": "X", "ServiceEpisodeDescription": "X",
    "VisitComments": "X", "TopicTitle": "X", "TopicAuthor": "X", "TopicKeywords": "X",
    "TopicSubject": "X", "AcquisitionComments": "X", "CommentsOnThePerformedProcedureStep": "X",
    "DigitalSignaturesSequence": "X", "OriginalAttributesSequence": "X",
    "ModifiedAttributesSequence": "X", "FrameComments": "X", "DischargeDiagnosisDescription": "X",
    # dates and times (the Longitudinal Temporal option is not retained)
    "StudyDate": "Z", "StudyTime": "Z", "ContentDate": "Z", "ContentTime": "Z",
    "SeriesDate": "X", "SeriesTime": "X", "AcquisitionDate": "X", "AcquisitionTime": "X",
    "AcquisitionDateTime": "X", "InstanceCreationDate": "X", "InstanceCreationTime": "X",
    "PerformedProcedureStepStartDate": "X", "PerformedProcedureStepStartTime": "X",
    "PerformedProcedureStepEndDate": "X", "PerformedProcedureStepEndTime": "X",
    # instance identities
    "SOPInstanceUID": "U", "StudyInstanceUID": "U", "SeriesInstanceUID": "U",
    "FrameOfReferenceUID": "U", "SynchronizationFrameOfReferenceUID": "U",
    "ReferencedSOPInstanceUID": "U", "InstanceCreatorUID": "U", "IrradiationEventUID": "U",
    "ConcatenationUID": "U", "DimensionOrganizationUID": "U", "StorageMediaFileSetUID": "U",
    "TransactionUID": "U", "ReferencedFrameOfReferenceUID": "U", "UID": "U",
    "MediaStorageSOPInstanceUID": "U", "DeviceUID": "X", "TargetUID": "U",
}

#: Basic Application Confidentiality Profile (DICOM code 113100), recorded in the output.
PROFILE_CODE: Final = ("113100", "DCM", "Basic Application Confidentiality Profile")
#: Deidentification Method (LO: at most 64 characters).
METHOD: Final = "PS3.15 E.1 Basic Profile; private, overlays, curves removed"

_TEXT_OUT: Final = {"PN"}
_TIME_OUT: Final = {"DA", "DT", "TM"}


class UidMap:
    """Replaces UIDs with new ``2.25.`` UIDs: the same UID always gets the same new one in
    one map (so slices keep their series together) and nothing links it to the old
    one without the map's secret, which never leaves this computer."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)

    def __call__(self, uid: str) -> str:
        digest = hmac.new(self._secret, uid.strip().encode("ascii", "replace"),
                          hashlib.sha256).digest()
        return "2.25." + str(int.from_bytes(digest[:16], "big"))


def _standard_uid(uid: str) -> bool:
    """A UID of the standard itself (an SOP class, a transfer syntax): identifies nobody."""
    return uid in pydicom.uid.UID_dictionary or uid.startswith("1.2.840.10008.")


def deidentify(ds: Dataset, uids: UidMap | None = None) -> Dataset:
    """A de-identified copy of ``ds`` (``ds`` is left as it is); ``uids`` keeps UID
    replacement consistent across the files of one consultation."""
    uids = uids if uids is not None else UidMap()
    out = copy.deepcopy(ds)
    if getattr(out, "file_meta", None) is not None:
        _clean(out.file_meta, uids)
    _clean(out, uids)
    out.PatientIdentityRemoved = "YES"
    out.LongitudinalTemporalInformationModified = "REMOVED"
    out.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = PROFILE_CODE
    out.DeidentificationMethodCodeSequence = Sequence([code])
    if getattr(out, "file_meta", None) is not None and "SOPInstanceUID" in out:
        out.file_meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    return out


def _clean(ds: Dataset, uids: UidMap) -> None:
    for tag in list(ds.keys()):
        element = ds[tag]
        group = tag.group
        if tag.is_private or 0x5000 <= group <= 0x50FF or \
                (0x6000 <= group <= 0x60FF and tag.element in (0x3000, 0x4000, 0x0022)):
            del ds[tag]  # private data, curves, overlay data and comments
            continue
        action = PROFILE.get(element.keyword, "")
        if action == "X":
            del ds[tag]
        elif action == "Z":
            element.value = Sequence() if element.VR == "SQ" else ""
        elif action == "U" or (element.VR == "UI" and element.keyword != "TransferSyntaxUID"):
            _replace_uids(element, uids)
        elif element.VR in _TEXT_OUT or element.VR in _TIME_OUT:
            del ds[tag]
        elif element.VR == "SQ":
            for item in element.value:
                _clean(item, uids)


def _replace_uids(element: pydicom.dataelem.DataElement, uids: UidMap) -> None:
    if element.VR == "SQ":
        element.value = Sequence()
        return
    if element.value in (None, ""):
        return
    values = element.value if isinstance(element.value, pydicom.multival.MultiValue) \
        else [element.value]
    new = [v if _standard_uid(str(v)) else UID(uids(str(v))) for v in values]
    element.value = new if len(new) > 1 else new[0]
