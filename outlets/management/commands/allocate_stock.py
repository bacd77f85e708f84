"""``manage.py allocate_stock``: the operator's bulk allocation of new packs to a dealer.

The same service as the page and the API (``outlets.services.stock_allocate_to_dealer``): a CSV
file (msisdn, iccid) or a contiguous MSISDN range; any faulty line refuses the whole file, each
fault reported with its line; the figures (packs, seconds) are printed.
"""

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from outlets import services, stockfiles
from outlets.models import Dealer


class Command(BaseCommand):
    help = (
        "Allocate new starter packs to a dealer from a CSV file (msisdn, iccid) or an MSISDN "
        "range, as the operator user given with --actor. All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dealer", required=True, help="dealer code, e.g. AD0001")
        parser.add_argument("--actor", required=True, help="username of an operator admin")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--file", type=Path, help="UTF-8 CSV with a header: msisdn,iccid")
        source.add_argument("--range", nargs=2, metavar=("FIRST", "LAST"), help="MSISDN range")
        parser.add_argument("--note", default="")

    def handle(self, *args, dealer, actor, file, range, note, **options):
        user = get_user_model().objects.filter(username=actor, is_active=True).first()
        if user is None or not user.is_operator:
            raise CommandError(f"--actor {actor!r} is not an active operator admin.")
        dealer_obj = Dealer.objects.filter(code=dealer).first()
        if dealer_obj is None:
            raise CommandError(f"Unknown dealer {dealer!r}.")
        started = time.perf_counter()
        if file is not None:
            parsed = stockfiles.parse_pack_csv(file.read_bytes())
            if parsed.errors:
                self._fail(services.line_messages(parsed.errors))
            lines, source = parsed.lines, f"file {file.name}"
        else:
            try:
                span = stockfiles.parse_range(*range)
            except stockfiles.RangeError as exc:
                raise CommandError(services.range_message(exc.code, **exc.params)) from exc
            lines, source = stockfiles.range_lines(span), f"range {span.first}–{span.last}"
        parsed_at = time.perf_counter()
        try:
            allocation = services.stock_allocate_to_dealer(
                actor=user, dealer=dealer_obj, lines=lines, source=source, note=note
            )
        except ValidationError as exc:
            self._fail([m for messages in exc.message_dict.values() for m in messages])
        done = time.perf_counter()
        self.stdout.write(
            self.style.SUCCESS(
                f"Allocated {allocation.pack_count} starter packs to {dealer_obj.code} "
                f"(allocation #{allocation.pk}): read {parsed_at - started:.2f} s, "
                f"written {done - parsed_at:.2f} s."
            )
        )

    def _fail(self, messages: list[str]) -> None:
        for message in messages:
            self.stderr.write(message)
        raise CommandError("Nothing was allocated.")
