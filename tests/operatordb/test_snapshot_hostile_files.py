"""Hostile snapshot files: each is rejected whole with its faults by line, field and reason (or,
where the rule says so, loaded), the command says what went wrong without a traceback, and
nothing is written."""

import builtins
import errno
import io
import os

from django.core.management import CommandError, call_command

from operatordb.models import OperatorSubscriber
from operatordb.snapshot import load_snapshot

from .snapshot_files import row, write


def _command(*args):
    """(exit status, stdout, stderr) of ``load_operator_snapshot`` as a user runs it."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("load_operator_snapshot", *map(str, args), stdout=out, stderr=err)
    except CommandError as exc:
        err.write(f"CommandError: {exc}\n")
        return exc.returncode, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_a_directory_is_said_so_without_a_traceback(db, tmp_path):
    load_snapshot(write(tmp_path, [row(1)]))
    folder = tmp_path / "adir"
    folder.mkdir()

    status, _out, err = _command(folder)

    assert status == 2
    assert f"Cannot open {folder}: Is a directory" in err
    assert OperatorSubscriber.objects.count() == 1


def test_an_unreadable_file_is_said_so_without_a_traceback(db, tmp_path, monkeypatch):
    path = write(tmp_path, [row(1)])
    if os.geteuid() == 0:  # root reads any file: the refusal as the system would give it
        real_open = builtins.open

        def refusing_open(file, *args, **kwargs):
            if str(file) == str(path):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", refusing_open)
    else:
        path.chmod(0)

    status, _out, err = _command(path)

    assert status == 2
    assert f"Cannot open {path}: Permission denied" in err
    assert not OperatorSubscriber.objects.exists()
