"""The compliance workflow: the party accountable for a number explains or corrects what
reconciliation found, a GraPARI reviewer decides, and an outlet that keeps registering false data
loses the right to register.

- ``intake``: reconciliation's hand-over (the receiver ``ComplianceConfig.ready()`` registers)
  opens clarification requests, set-based;
- ``clarifications``: answering, asking again, the expiry and settling sweeps;
- ``queue``: what enters GraPARI's review queue; ``review``: claims and decisions;
- ``number_blocks``: a blocked number, and telling the operator; ``sanctions``: violations, the
  ladder, lifting a suspension; ``notifications``: telling people;
- ``erasure``: the workflow's share of erasing a registration's personal data;
- ``selectors``, ``forms``, ``views``, ``api``, ``tasks``: the scoped reads, the pages and API
  (one module per resource) and the Celery tasks;
- ``support``: what the services share.

It may read reconciliation's models and selectors; reconciliation never imports it.
"""
