"""Reconciliation of the portal's registrations with the operator's database.

- ``rules``: what counts as a discrepancy, as plain functions;
- ``engine``: a run's life (start, plan, chunks, finish, recovery), with its two ways to
  compare: ``sql`` (set-based, the operator's data in the same PostgreSQL database) and
  ``python`` (through the operator adapter);
- ``handover``: the hook through which a finished run's new findings reach the compliance
  workflow (which registers itself; this package never imports it);
- ``selectors``, ``views``, ``api``, ``tasks``: the scoped reads, the pages, the API and the
  Celery tasks;
- ``generator``: operator data with planted discrepancies and the truth of what was planted,
  for tests, benchmarks and the demo.
"""
