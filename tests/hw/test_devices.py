"""Device table: names, datasheet capacities, clear errors for unknown names and overflows."""

import pytest

from hw.cost.devices import DEVICES, DeviceError, check_fits, fit_report, get_device


def test_names_are_the_documented_ones():
    assert list(DEVICES) == ["ecp5-25", "ecp5-45", "ecp5-85", "ice40-up5k", "ice40-hx8k",
                             "xc7a100t"]


@pytest.mark.parametrize("name, lut, bram, dsp", [
    ("ecp5-25", 24_288, 56, 28), ("ecp5-45", 43_848, 108, 72), ("ecp5-85", 83_640, 208, 156),
    ("ice40-up5k", 5_280, 30, 8), ("ice40-hx8k", 7_680, 32, 0), ("xc7a100t", 63_400, 135, 240)])
def test_datasheet_capacities(name, lut, bram, dsp):
    d = get_device(name)
    assert (d.lut, d.bram, d.dsp) == (lut, bram, dsp)
    assert d.source  # every device cites where its numbers come from


def test_artix_ff_and_pnr_flags():
    a7 = get_device("XC7A100T")   # case-insensitive
    assert a7.ff == 126_800 and not a7.can_place_and_route
    assert get_device("ecp5-85").can_place_and_route and "--85k" in get_device("ecp5-85").nextpnr_args


def test_unknown_device_lists_valid_names():
    with pytest.raises(DeviceError) as e:
        get_device("ecp5-12")
    for name in DEVICES:
        assert name in str(e.value)


def test_does_not_fit_says_by_how_much_per_resource():
    dev = get_device("ice40-up5k")
    rep = fit_report({"lut": 6000, "ff": 100, "bram": 31, "dsp": 0}, dev)
    assert rep["lut"]["over"] == 720 and rep["bram"]["over"] == 1 and rep["ff"]["over"] == 0
    with pytest.raises(DeviceError) as e:
        check_fits({"lut": 6000, "ff": 100, "bram": 31, "dsp": 0}, dev)
    msg = str(e.value)
    assert "lut: needs 6000, has 5280 (over by 720" in msg and "bram: needs 31, has 30" in msg
    assert "ff:" not in msg
    check_fits({"lut": 5280, "ff": 5280, "bram": 30, "dsp": 8}, dev)   # exactly full fits
