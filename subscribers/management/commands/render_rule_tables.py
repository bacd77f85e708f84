"""Render the rule-set tables of docs/rules.md and README.md from the published rule sets."""

from django.core.management.base import BaseCommand, CommandError

from subscribers.ruletables import rendered_documents


class Command(BaseCommand):
    help = (
        "Write the rule-set tables of docs/rules.md and README.md from the published rule sets "
        "(--check: only say whether they are up to date)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Change nothing; fail if stale.")

    def handle(self, *args, check=False, **options):
        stale = []
        for path, (current, rendered) in rendered_documents().items():
            if current == rendered:
                continue
            stale.append(path.name)
            if not check:
                path.write_text(rendered, encoding="utf-8")
        if check and stale:
            raise CommandError(f"out of date: {', '.join(stale)} (run render_rule_tables)")
        self.stdout.write(
            ("rewritten: " if stale else "up to date: ") + (", ".join(stale) or "all tables")
        )
