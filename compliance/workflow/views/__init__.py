"""Pages of the compliance workflow, one module per resource: the outlet's inbox and answer
(``clarifications``), GraPARI's review queue and review page (``review``), a registration's
history (``history``), an outlet's compliance record and lifting a suspension (``sanctions``),
notifications (``notifications``).

Thin: fetch through the scoped selectors (an outsider gets a 404, a role without access a 403),
call one service, respond. Personal data is served private, never cached; looking at a
registration someone else made is audited, as on the registration pages.
"""
