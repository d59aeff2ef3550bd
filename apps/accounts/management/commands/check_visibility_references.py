"""Report records that are more visible than the records they reference (existing rows; nothing is changed).

    python manage.py check_visibility_references [--fail]

One line per violation of the rule in `apps.accounts.references`; the pages and
the API already hide such references from viewers who may not see them, but
the owners should publish the reference or restrict the record. ``--fail``
exits with status 1 when there is any (for a deployment check).
"""
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.references import find_violations


class Command(BaseCommand):
    help = "List records more visible than the records they reference (visibility follows references)."

    def add_arguments(self, parser):
        parser.add_argument("--fail", action="store_true", help="Exit with status 1 when a violation is found.")

    def handle(self, *args, fail: bool = False, **options):
        count = 0
        for violation in find_violations():
            count += 1
            self.stdout.write(violation.describe())
        if count == 0:
            self.stdout.write(self.style.SUCCESS("No record is more visible than the records it references."))
            return
        summary = f"{count} record(s) more visible than what they reference; nothing was changed."
        if fail:
            raise CommandError(summary)
        self.stdout.write(self.style.WARNING(summary))
