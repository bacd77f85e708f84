"""``manage.py allocate_stock``: the operator's bulk allocation from the shell."""

import pytest
from django.core.management import CommandError, call_command

from outlets.models import StarterPack, StockAllocation

pytestmark = pytest.mark.django_db


def test_a_csv_file(operator, dealer_org, tmp_path, capsys):
    path = tmp_path / "kiriman.csv"
    path.write_text("msisdn,iccid\n081300000001,\n081300000002,\n")

    call_command("allocate_stock", dealer="AD0001", actor="admin", file=path)

    assert StarterPack.objects.filter(dealer=dealer_org).count() == 2
    assert "Allocated 2 starter packs to AD0001" in capsys.readouterr().out


def test_a_range(operator, dealer_org):
    call_command(
        "allocate_stock",
        "--dealer",
        "AD0001",
        "--actor",
        "admin",
        "--range",
        "081300000100",
        "081300000149",
    )
    assert StockAllocation.objects.get().pack_count == 50


def test_faults_are_printed_by_line_and_nothing_written(operator, dealer_org, tmp_path, capsys):
    path = tmp_path / "kiriman.csv"
    path.write_text("msisdn\n081300000001\nxx\n081300000001\n")

    with pytest.raises(CommandError, match="Nothing was allocated"):
        call_command("allocate_stock", dealer="AD0001", actor="admin", file=path)

    assert capsys.readouterr().err.splitlines() == [
        "Line 3: “xx” is not an Indonesian mobile number.",
        "Line 4: 6281300000001 is already on line 2.",
    ]
    assert not StarterPack.objects.exists()


def test_only_an_operator_and_a_known_dealer(dealer_user, operator, dealer_org):
    with pytest.raises(CommandError, match="not an active operator"):
        call_command(
            "allocate_stock",
            dealer="AD0001",
            actor="dealer",
            range=["081300000001", "081300000002"],
        )
    with pytest.raises(CommandError, match="Unknown dealer"):
        call_command(
            "allocate_stock", dealer="AD9", actor="admin", range=["081300000001", "081300000002"]
        )
