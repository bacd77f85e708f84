"""The door's background work: SMS delivery, the notice window's blocks, telling the operator,
the purge of expired sessions."""

from celery import shared_task

from . import services, sms

SMS_RETRIES = 5


@shared_task(bind=True, max_retries=SMS_RETRIES, ignore_result=True)
def deliver_sms(self, message_id: int) -> bool:
    try:
        return sms.sms_deliver(message_id=message_id)
    except sms.DeliveryFailed as exc:
        # Backing off 30 s, 60 s, 120 s …; after the last retry the sweep takes over.
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc


@shared_task(ignore_result=True)
def sweep_pending_sms() -> int:
    return sms.sms_sweep_pending()


@shared_task(ignore_result=True)
def block_unanswered_disputes() -> int:
    return services.holder_disputes_block_due()


@shared_task(ignore_result=True)
def tell_operator(notice_id: int) -> bool:
    return services.operator_notice_tell(notice_id=notice_id)


@shared_task(ignore_result=True)
def retry_operator_notices() -> int:
    return services.operator_notices_retry()


@shared_task(ignore_result=True)
def purge_holder_records() -> dict:
    return services.holder_records_purge()
