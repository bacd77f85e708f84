"""The decisions a rule set makes about a registration, each written once as a predicate.

A predicate is built from a rule set (``RegistrationPolicy``, or anything with its fields) and
speaks of a registration's *facts* (``FACTS``). It is evaluated two ways, from the one
definition:

- ``holds(facts)`` on one registration in Python: the registration service, the bulk import
  and the registry's late check call it with the facts they looked up;
- ``sql()`` over many registrations at once: the preview of a draft rule set
  (``subscribers.preview``) compiles it into one statement over the registrations of a period,
  whose columns carry the same facts.

``tests/subscribers/test_rulebook.py`` holds the two to the same verdicts on the same data.
The rule set's own values (its lists, its cap) are folded in when a predicate is built, so a
rule a rule set does not have compiles to ``FALSE`` and costs nothing.

No database access, no Django model import: the rules module and the import use it as well.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

# The facts of a registration the predicates speak of, with their Python type.
FACTS = {
    "id_type": str,  # ktp, sim, passport, student_card, kitas, kitap
    "citizen": bool,  # nationality ID
    "personal": bool,  # category personal (counts against its NIK's cap)
    "has_kk": bool,  # a family card number was given
    "face_shown": bool,  # a face photo came with it (at the counter)
    "imported": bool,  # a record of a sale imported from a file (no photos, no purpose)
    "statement_signed": bool,  # the buyer signed the statement
    "document_refused": bool,  # the record says the original document was NOT checked
    "held_before": int,  # numbers its NIK held against the cap before it (services.cap_count)
    "outlet_operator": bool,  # registered at one of the operator's own outlets
    "outlet_authorised": bool,  # at an outlet the operator authorised in writing by that day
    "has_purpose": bool,  # a declared purpose was entered
    "insider_id": bool,  # the NIK is one of the dealer's people's
    "insider_kk": bool,  # the KK is one of the dealer's people's
}


class Expr:
    """A predicate over a registration's facts."""

    def holds(self, facts: Mapping) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def sql(self, columns: Columns | None = None) -> tuple[str, list]:  # pragma: no cover
        """The predicate as SQL with its parameters; ``columns`` says how the facts are
        stored (by default, a column named after each)."""
        raise NotImplementedError

    def __and__(self, other: Expr) -> Expr:
        if FALSE in (self, other):
            return FALSE
        if self is TRUE:
            return other
        if other is TRUE:
            return self
        return All(self, other)

    def __or__(self, other: Expr) -> Expr:
        if TRUE in (self, other):
            return TRUE
        if self is FALSE:
            return other
        if other is FALSE:
            return self
        return Either(self, other)

    def __invert__(self) -> Expr:
        if self is TRUE:
            return FALSE
        if self is FALSE:
            return TRUE
        if isinstance(self, Not):
            return self.part
        return Not(self)


@dataclass(frozen=True, eq=False)
class Const(Expr):
    value: bool

    def holds(self, facts) -> bool:
        return self.value

    def sql(self, columns=None):
        return ("TRUE" if self.value else "FALSE"), []


TRUE = Const(True)
FALSE = Const(False)


class Columns:
    """Where the facts are in the SQL the predicates compile to: by default a column named
    after each fact. A subclass may store them otherwise (packed in bits, say)."""

    def fact(self, name: str) -> str:
        """A yes/no fact (``Fact``)."""
        return self.column(name)

    def column(self, name: str) -> str:
        if name not in FACTS:
            raise KeyError(f"unknown fact {name!r}")
        return f'"{name}"'

    def one_of(self, name: str, values: tuple) -> tuple[str, list]:
        """The fact ``name`` is one of ``values`` (``In``)."""
        return f"{self.column(name)} = ANY(%s)", [list(values)]


NAMED = Columns()


@dataclass(frozen=True, eq=False)
class Fact(Expr):
    """A yes/no fact."""

    name: str

    def holds(self, facts) -> bool:
        return bool(facts[self.name])

    def sql(self, columns=None):
        return (columns or NAMED).fact(self.name), []


@dataclass(frozen=True, eq=False)
class In(Expr):
    name: str
    values: tuple

    def holds(self, facts) -> bool:
        return facts[self.name] in self.values

    def sql(self, columns=None):
        return (columns or NAMED).one_of(self.name, self.values)


@dataclass(frozen=True, eq=False)
class AtLeast(Expr):
    name: str
    number: int

    def holds(self, facts) -> bool:
        return facts[self.name] >= self.number

    def sql(self, columns=None):
        return f"{(columns or NAMED).column(self.name)} >= %s", [self.number]


@dataclass(frozen=True, eq=False)
class All(Expr):
    left: Expr
    right: Expr

    def holds(self, facts) -> bool:
        return self.left.holds(facts) and self.right.holds(facts)

    def sql(self, columns=None):
        (a, pa), (b, pb) = self.left.sql(columns), self.right.sql(columns)
        return f"({a} AND {b})", pa + pb


@dataclass(frozen=True, eq=False)
class Either(Expr):
    left: Expr
    right: Expr

    def holds(self, facts) -> bool:
        return self.left.holds(facts) or self.right.holds(facts)

    def sql(self, columns=None):
        (a, pa), (b, pb) = self.left.sql(columns), self.right.sql(columns)
        return f"({a} OR {b})", pa + pb


@dataclass(frozen=True, eq=False)
class Not(Expr):
    part: Expr

    def holds(self, facts) -> bool:
        return not self.part.holds(facts)

    def sql(self, columns=None):
        a, pa = self.part.sql(columns)
        return f"(NOT {a})", pa


def one_of(name: str, values) -> Expr:
    values = tuple(values)
    return In(name, values) if values else FALSE


def at_least(name: str, number: int | None) -> Expr:
    """``name >= number``; FALSE when the rule set has no such number (None or 0)."""
    return AtLeast(name, int(number)) if number else FALSE


def flag(condition) -> Expr:
    return TRUE if condition else FALSE


# --- the rules ---------------------------------------------------------------------------------

CITIZEN = Fact("citizen")
NIK_TYPES = ("ktp", "sim")
RESIDENCE_PERMITS = ("kitas", "kitap")


def id_type_accepted(policy) -> Expr:
    """The ID type is among the rule set's for the buyer's nationality (a rule set with no list
    per nationality accepts its types from everyone)."""
    citizen_types = getattr(policy, "citizen_id_types", None) or []
    foreigner_types = getattr(policy, "foreigner_id_types", None) or []
    if not citizen_types and not foreigner_types:
        return one_of("id_type", getattr(policy, "accepted_id_types", None) or [])
    return (CITIZEN & one_of("id_type", citizen_types)) | (
        ~CITIZEN & one_of("id_type", foreigner_types)
    )


def id_type_refused(policy) -> Expr:
    """Refused at ``id_type``. A residence permit entered with nationality ID passes here: the
    ID rules refuse it at ``nationality`` (KITAS and KITAP are for foreign citizens)."""
    permit_slip = (
        CITIZEN
        & one_of("id_type", RESIDENCE_PERMITS)
        & one_of("id_type", getattr(policy, "accepted_id_types", None) or [])
    )
    return ~id_type_accepted(policy) & ~permit_slip


def kk_missing(policy) -> Expr:
    """A citizen's NIK without the family card the rule set asks for: always under NIK + KK;
    under "KK or face" when no face photo came either (an import carries no photos, so it is
    not asked)."""
    proof = getattr(policy, "citizen_proof", "document")
    without_kk = CITIZEN & one_of("id_type", NIK_TYPES) & ~Fact("has_kk")
    if proof == "nik_kk":
        return without_kk
    if proof == "nik_kk_or_face":
        return without_kk & ~Fact("face_shown") & ~Fact("imported")
    return FALSE


def statement_missing(policy) -> Expr:
    """The rule set asks for the buyer's signed statement and the counter did not tick it (an
    import's record carries no statement)."""
    asked = flag(getattr(policy, "signed_statement_required", False))
    return asked & ~Fact("imported") & ~Fact("statement_signed")


def insider_id(policy) -> Expr:
    """End user only: the NIK of one of the dealer's people is refused."""
    return flag(getattr(policy, "staff_own_id_forbidden", False)) & Fact("insider_id")


def insider_kk(policy) -> Expr:
    """End user only: the family card of one of the dealer's people is flagged for review."""
    forbidden = flag(getattr(policy, "staff_own_id_forbidden", False))
    return forbidden & ~Fact("insider_id") & Fact("insider_kk")


def over_cap(policy) -> Expr:
    """A personal number beyond the cap: its NIK already holds the cap or more."""
    return Fact("personal") & at_least("held_before", getattr(policy, "max_numbers_per_id", None))


def cap_exception(policy) -> Expr:
    """Where numbers beyond the cap may be registered (``cap_exceptions``)."""
    where = getattr(policy, "cap_exceptions", "nobody")
    if where == "operator":
        return Fact("outlet_operator")
    if where == "authorised":
        return Fact("outlet_operator") | Fact("outlet_authorised")
    return FALSE


def cap_refused(policy) -> Expr:
    """Beyond the cap at an outlet the rule set's exceptions do not cover."""
    return over_cap(policy) & ~cap_exception(policy)


def _purpose_short(policy) -> Expr:
    limit = getattr(policy, "declared_purpose_above", None)
    return (
        over_cap(policy)
        & cap_exception(policy)
        & at_least("held_before", limit)
        & ~Fact("has_purpose")
    )


def purpose_missing(policy) -> Expr:
    """Above ``declared_purpose_above`` numbers without a declared purpose: refused at the
    counter."""
    return _purpose_short(policy) & ~Fact("imported")


def purpose_missing_imported(policy) -> Expr:
    """The same for an imported record (a file carries no purpose): flagged for review."""
    return _purpose_short(policy) & Fact("imported")


def over_cap_permitted(policy) -> Expr:
    """Beyond the cap where the exceptions allow it: registered, with a warning."""
    return over_cap(policy) & cap_exception(policy) & ~purpose_missing(policy)


def document_not_checked(policy) -> Expr:
    """The rule set asks for the original documents and the record says they were not
    checked: flagged for review."""
    return flag(getattr(policy, "original_documents_required", False)) & Fact("document_refused")


# What each decision does to a registration: refuse it, flag it for review, or let it through
# with a note. The preview reports them under these codes.
REFUSALS = {
    "id_type_not_accepted": id_type_refused,
    "kk_missing": kk_missing,
    "statement_missing": statement_missing,
    "insider_id": insider_id,
    "over_cap": cap_refused,
    "purpose_missing": purpose_missing,
}
FLAGS = {
    "insider_kk": insider_kk,
    "declared_purpose_missing": purpose_missing_imported,
    "document_not_checked": document_not_checked,
    # Beyond the cap where the outlet may register beyond it: accepted, and a person looks.
    "over_cap_permitted": over_cap_permitted,
}
NOTES: dict = {}
DECISIONS = {**REFUSALS, **FLAGS, **NOTES}

LABELS = {
    "id_type_not_accepted": _("ID type not accepted"),
    "kk_missing": _("family card (KK) missing"),
    "statement_missing": _("signed statement missing"),
    "insider_id": _("NIK of the dealer's people"),
    "over_cap": _("over the cap, outlet not allowed beyond it"),
    "purpose_missing": _("over the declared-purpose limit without a purpose"),
    "insider_kk": _("family card of the dealer's people"),
    "declared_purpose_missing": _("imported over the declared-purpose limit"),
    "document_not_checked": _("original document not checked"),
    "over_cap_permitted": _("over the cap, allowed at this outlet"),
}


def compile_rules(policy) -> dict[str, Expr]:
    """Every decision of ``policy`` as a predicate, by code."""
    return {code: build(policy) for code, build in DECISIONS.items()}


# The rule set's fields the predicates read. Two rule sets with equal values here make the same
# decisions, so ``compiled`` keys its predicates by these values: a rule set edited (in the
# database or on the object in hand) is compiled again, an unchanged one is not.
RULE_FIELDS = (
    "accepted_id_types",
    "citizen_id_types",
    "foreigner_id_types",
    "citizen_proof",
    "signed_statement_required",
    "staff_own_id_forbidden",
    "max_numbers_per_id",
    "cap_exceptions",
    "declared_purpose_above",
    "original_documents_required",
)


class Rule:
    """A predicate of a compiled rule set, its verdicts remembered by the values of the facts
    it reads (a handful: ID types, yes/no facts, small counts), so a row like many before it
    is decided by one dictionary look-up."""

    __slots__ = ("_key", "_verdicts", "expr")
    _MAX_VERDICTS = 4096  # beyond this many distinct fact values, evaluate without keeping

    def __init__(self, expr: Expr) -> None:
        self.expr = expr
        names = sorted(facts_used(expr))
        # A constant needs no facts; one fact is its own key; more, a tuple (itemgetter's).
        self._key = operator.itemgetter(*names) if names else None
        self._verdicts: dict = {}

    def holds(self, facts: Mapping) -> bool:
        if self._key is None:
            return self.expr.holds(facts)
        try:
            key = self._key(facts)
            return self._verdicts[key]
        except KeyError:  # not decided yet, or a fact it may not need is absent
            pass
        except TypeError:  # a value that cannot be a key
            return self.expr.holds(facts)
        verdict = self.expr.holds(facts)
        try:
            key = self._key(facts)
        except KeyError:
            return verdict
        if len(self._verdicts) < self._MAX_VERDICTS:
            self._verdicts[key] = verdict
        return verdict


class Compiled:
    """A rule set's predicates, built once (``compiled``): ``id_type_accepted`` and every
    decision of ``DECISIONS`` as a ``Rule`` named after its builder (``id_type_refused``,
    ``kk_missing``, ``cap_refused``, ...)."""

    __slots__ = ("id_type_accepted", *(build.__name__ for build in DECISIONS.values()))

    def __init__(self, policy) -> None:
        self.id_type_accepted = Rule(id_type_accepted(policy))
        for build in DECISIONS.values():
            setattr(self, build.__name__, Rule(build(policy)))


def rule_key(policy) -> tuple:
    """The values of ``policy``'s ``RULE_FIELDS`` (its lists as tuples): what its predicates
    depend on."""
    try:
        accepted, citizen, foreigner, *rest = _rule_fields(policy)
    except AttributeError:  # not a full rule set: its missing fields read as None
        accepted, citizen, foreigner, *rest = (getattr(policy, name, None) for name in RULE_FIELDS)
    return (tuple(accepted or ()), tuple(citizen or ()), tuple(foreigner or ()), *rest)


# The three lists first (rule_key).
_rule_fields = operator.attrgetter(*RULE_FIELDS)
_COMPILED: dict[tuple, Compiled] = {}
_COMPILED_MAX = 256  # distinct rule sets kept; far more than any portal holds


def compiled(policy) -> Compiled:
    """``policy``'s predicates, built once per distinct rule set (by ``rule_key``), for the
    form, the API, the import and the registration service alike. Building one walks the rule
    set; the registration rules ask three of them for every row they check."""
    key = rule_key(policy)
    try:
        found = _COMPILED.get(key)
    except TypeError:  # a value that cannot be a key (not a rule set's own types): not kept
        return Compiled(policy)
    if found is None:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        found = _COMPILED[key] = Compiled(policy)
    return found


def facts_used(expr: Expr) -> set[str]:
    """The facts ``expr`` reads: what a registration must be known by to be judged by it."""
    if isinstance(expr, Fact | In | AtLeast):
        return {expr.name}
    found: set[str] = set()
    for part in ("left", "right", "part"):
        if hasattr(expr, part):
            found |= facts_used(getattr(expr, part))
    return found


def thresholds(expr: Expr, name: str) -> set[int]:
    """The numbers ``expr`` compares the fact ``name`` with (``AtLeast``): beyond the largest,
    a larger value decides nothing more."""
    if isinstance(expr, AtLeast):
        return {expr.number} if expr.name == name else set()
    found: set[int] = set()
    for part in ("left", "right", "part"):
        if hasattr(expr, part):
            found |= thresholds(getattr(expr, part), name)
    return found


def judge(policy, facts: Mapping) -> dict[str, bool]:
    """Every decision of ``policy`` on one registration's ``facts`` (all of ``FACTS``)."""
    return {code: rule.holds(facts) for code, rule in compile_rules(policy).items()}


def outcome(decisions: Mapping[str, bool]) -> str:
    """``refused``, ``flagged`` or ``accepted`` from a registration's decisions."""
    if any(decisions[code] for code in REFUSALS):
        return "refused"
    if any(decisions[code] for code in FLAGS):
        return "flagged"
    return "accepted"
