"""``manage.py data_subject_request ID_NUMBER --export PATH | --erase | --restrict``."""

import getpass
import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from privacy import selectors, services
from privacy.models import DataSubjectRequest
from privacy.services.export_files import export_file_record


class Command(BaseCommand):
    help = (
        "Handle a person's request about the data held on their ID number: look everything "
        "up (always), then --export PATH (JSON, or CSV when PATH ends in .csv), --erase "
        "(anonymise what is out of service now, the rest when it leaves service) or --restrict. "
        "Every step is audited with the number masked, acting as 'command-line:<os user>'."
    )

    def add_arguments(self, parser):
        parser.add_argument("id_number")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--export", metavar="PATH", help="write the person's copy there")
        action.add_argument("--erase", action="store_true")
        action.add_argument("--restrict", action="store_true")
        action.add_argument("--lift-restriction", action="store_true")
        parser.add_argument(
            "--channel",
            default=DataSubjectRequest.Channel.OTHER,
            choices=DataSubjectRequest.Channel.values,
        )
        parser.add_argument("--reference", default="", help="letter or ticket number")
        parser.add_argument("--name", default="", help="the person's name, as on the document")
        parser.add_argument("--birth-date", default="", help="the person's birth date (YYYY-MM-DD)")
        parser.add_argument(
            "--decide",
            action="append",
            default=[],
            metavar="KEY=include|exclude",
            help="settle a record the number matched ambiguously (repeatable)",
        )

    def handle(self, *args, id_number, export, erase, restrict, lift_restriction, **options):
        actor = f"command-line:{getpass.getuser()}"
        try:
            request = services.data_subject_request_open(
                actor=actor,
                id_number=id_number,
                channel=options["channel"],
                reference=options["reference"],
                full_name=options["name"],
                birth_date=options["birth_date"] or None,
            )
            if options["decide"]:
                decisions = dict(item.partition("=")[::2] for item in options["decide"])
                services.data_subject_request_decide(
                    actor=actor, request=request, decisions=decisions
                )
            self._act(actor, request, export, erase, restrict, lift_restriction)
        except ValidationError as exc:
            # Nothing was done: an ambiguous match, a number no key decrypts, bad input.
            raise CommandError("; ".join(exc.messages)) from exc

    def _act(self, actor, request, export, erase, restrict, lift_restriction):
        request.refresh_from_db()
        records = selectors.data_subject_records(
            digests=request.id_number_digests, person=request.person, decisions=request.decisions
        )
        self.stdout.write(
            f"request #{request.pk} {request.id_number_masked}: "
            f"{len(records.registrations)} registration(s), "
            f"{len(records.outlet_staff)} outlet-staff record(s)"
        )
        disagreeing = selectors.request_disagreements(request=request, records=records)
        if disagreeing:
            # Said before any action is tried: the number's records may be two people's.
            self.stdout.write(
                f"{len(disagreeing)} record(s) of this ID number disagree and may be another "
                "person's; nothing is exported, erased or restricted until each is decided "
                "(--decide KEY=include|exclude) or --name / --birth-date name the person:"
            )
            for item in disagreeing:
                differs = ", ".join(
                    "name" if name == "full_name" else "birth date" for name in item["differs"]
                )
                self.stdout.write(
                    f"  {item['key']}  {item['registration_number']}  "
                    f"{'current' if item['current'] else 'earlier version'}  "
                    f"name {item['full_name']!r}  born {item['birth_date'] or '?'}  "
                    f"{item['id_number']}  differs: {differs or '-'}"
                )
        if export:
            path = Path(export)
            fmt = "csv" if path.suffix.lower() == ".csv" else "json"
            result = services.data_subject_request_export(actor=actor, request=request, fmt=fmt)
            # Created readable by its owner only: it holds the person's full ID number.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(result.content)
            # Tracked: deleted after PRIVACY_EXPORT_RETENTION_DAYS, or when the person is erased.
            export_file_record(request=request, path=path, content=result.content)
            self.stdout.write(f"written {path} ({fmt})")
        elif erase:
            outcome = services.data_subject_request_erase(actor=actor, request=request)
            self.stdout.write(
                f"anonymised {outcome.anonymised}, deferred {outcome.deferred}, "
                f"earlier values erased {outcome.earlier_values_erased}, "
                f"staff erased {outcome.staff_erased}, staff kept {outcome.staff_kept}, "
                f"accounts erased {outcome.users_erased}, "
                f"holder's-door sessions deleted {outcome.holder_sessions_deleted}, "
                f"disputes erased {outcome.holder_disputes_erased}"
            )
        elif restrict:
            restricted = services.data_subject_request_restrict(actor=actor, request=request)
            self.stdout.write(f"restricted {restricted}")
        elif lift_restriction:
            lifted = services.data_subject_request_lift_restriction(actor=actor, request=request)
            self.stdout.write(f"restriction lifted on {lifted}")
