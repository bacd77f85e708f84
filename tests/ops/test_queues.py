"""Celery work runs on one queue per kind (settings.CELERY_TASK_ROUTES): photo clean-up,
reconciliation and exports each have their own, so none waits behind another's backlog; a
worker started without -Q (compose, `make run`, the tests) consumes them all."""

import pytest

from registration_portal.celery import app

ROUTED = {
    "subscribers.tasks.process_registration_photos": "photos",
    "compliance.reconciliation.tasks.plan_run": "reconcile",
    "compliance.reconciliation.tasks.work_chunk": "reconcile",
    "compliance.reconciliation.tasks.finish_run": "reconcile",
    "reports.tasks.run_export_job": "exports",
    "reports.tasks.sweep_exports": "celery",
    "compliance.reconciliation.tasks.reconciliation_tick": "celery",
    "subscribers.tasks.sweep_pending_photos": "celery",
}


@pytest.mark.parametrize(("task", "queue"), ROUTED.items())
def test_each_kind_of_work_goes_to_its_queue(task, queue):
    app.loader.import_default_modules()
    assert task in app.tasks, task  # the route names a real task
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_a_worker_without_q_consumes_every_queue():
    declared = {q.name for q in app.conf.task_queues}
    assert set(ROUTED.values()) <= declared
    assert app.conf.task_default_queue in declared
