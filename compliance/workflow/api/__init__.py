"""API of the compliance workflow, one module per resource: clarifications (the outlet answers
them), the review queue (GraPARI claims and decides its items), sanctions, and the caller's
notifications.

Thin: check the shape, fetch through the scoped selectors (another outlet's request is a 404),
call one service, answer. A service's ``ValidationError`` is the 400 with each field at fault
(``core.api``); a ``WorkflowConflict`` — an item claimed by another reviewer, a decision already
taken — is a 409 with ``detail`` and ``code``.
"""
