"""Writes of the privacy app: anonymisation (retention and erasure), data-subject requests,
number-deactivation sync, encryption-key and digest-key rotation.

One way in for each: the operator admin's pages, the management commands and the Celery tasks
call these functions. Each writes its audit row (``core.audit.audit_record``) in the
transaction that does the work. Long work runs as a ``PrivacyJob`` in chunks (``jobs``): every
chunk commits its writes with the job's cursor, fenced by the worker's claim, so a killed job
resumes where it stopped and nothing is done twice.
"""

from .anonymise import ANONYMISED_VALUES, AnonymiseResult, registrations_anonymise
from .digest_rotation import (
    DigestRotationIncomplete,
    DigestRotationNeedsPostgres,
    DigestRotationRefused,
    digest_rotation_start,
)
from .jobs import JobAlreadyActive, privacy_job_resume, privacy_job_run, privacy_job_start
from .ledger import erasure_ledger_purge, erasure_ledger_reapply
from .retention import (
    number_deactivations_sync_start,
    registrations_deactivation_record,
    retention_purge_start,
)
from .rotation import key_rotation_start
from .subject_requests import (
    AmbiguousMatch,
    ErasureOutcome,
    SubjectExport,
    data_subject_request_decide,
    data_subject_request_erase,
    data_subject_request_export,
    data_subject_request_lift_restriction,
    data_subject_request_open,
    data_subject_request_restrict,
    data_subject_request_view,
    guardian_erasures_due,
)

__all__ = [
    "ANONYMISED_VALUES",
    "AmbiguousMatch",
    "AnonymiseResult",
    "DigestRotationIncomplete",
    "DigestRotationNeedsPostgres",
    "DigestRotationRefused",
    "ErasureOutcome",
    "JobAlreadyActive",
    "SubjectExport",
    "data_subject_request_decide",
    "data_subject_request_erase",
    "data_subject_request_export",
    "data_subject_request_lift_restriction",
    "data_subject_request_open",
    "data_subject_request_restrict",
    "data_subject_request_view",
    "digest_rotation_start",
    "erasure_ledger_purge",
    "erasure_ledger_reapply",
    "guardian_erasures_due",
    "key_rotation_start",
    "number_deactivations_sync_start",
    "privacy_job_resume",
    "privacy_job_run",
    "privacy_job_start",
    "registrations_anonymise",
    "registrations_deactivation_record",
    "retention_purge_start",
]
