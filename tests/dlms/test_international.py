"""Real push frames from other countries' public test suites, through the decoder.

``tests/data/international.json`` holds frames from Norway, Sweden, Denmark,
Switzerland, Cyprus, Luxembourg, Czechia, Slovenia, Croatia, one from Austria
and a few whose country the source does not name, with the values their
sources state (or derive, with the reason written next to each value) and the
scaling conventions those values rest on; ``international.md`` lists the
sources. Every frame must either decode to exactly those values, units,
meter time and meter identification, or be rejected with a named error.

Where the decoder falls short, the test is marked ``xfail(strict=True)``
with the concrete wrong outcome (recorded under ``"today"`` in the JSON), so
that fixing the decoder turns the mark into a failure that asks for its
removal. Today no frame needs one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
import json
import logging
from typing import TYPE_CHECKING, Any, Final

import pytest

from custom_components.dlms_smartmeter.dlms import (
    DecryptionError,
    DlmsError,
    LinkLayer,
    MeterDecoder,
    MeterValue,
    Reading,
    Unit,
)
from custom_components.dlms_smartmeter.dlms.axdr import (
    Data,
    axdr_array,
    axdr_double_long_unsigned,
    axdr_integer,
    axdr_long_unsigned,
    axdr_obis,
    axdr_octet_string,
    axdr_structure,
    decode_data,
)
from custom_components.dlms_smartmeter.dlms.layouts import map_body
from custom_components.dlms_smartmeter.dlms.layouts.conventions import UNKNOWN
from custom_components.dlms_smartmeter.dlms.obis import on_channel_0
from tests.data import DATA

if TYPE_CHECKING:
    from collections.abc import Callable

INTERNATIONAL: Final[dict[str, Any]] = json.loads(
    (DATA / "international.json").read_text(encoding="utf-8")
)
FRAMES: Final[dict[str, dict[str, Any]]] = {
    frame["id"]: frame for frame in INTERNATIONAL["frames"]
}
LINKS: Final = {"hdlc": LinkLayer.HDLC, "mbus": LinkLayer.MBUS, "apdu": LinkLayer.APDU}


def key(frame: dict[str, Any], name: str) -> bytes | None:
    text = frame.get(name)
    return bytes.fromhex(text) if text else None


def decode(frame: dict[str, Any]) -> list[Reading | DlmsError]:
    """Outcomes of one frame: a link stream through ``feed``, an APDU directly."""
    decoder = MeterDecoder(key(frame, "key"), key(frame, "auth_key"))
    raw = bytes.fromhex(frame["hex"])
    if frame["link"] == "apdu":
        try:
            return [decoder.decode_apdu(raw)]
        except DlmsError as error:
            return [error]
    return decoder.feed(raw) + decoder.flush()


def the_reading(frame: dict[str, Any]) -> Reading:
    """The one reading of a frame, after the errors the frame is known to cause."""
    outcomes = decode(frame)
    readings = [item for item in outcomes if isinstance(item, Reading)]
    errors = [item.kind for item in outcomes if not isinstance(item, Reading)]
    assert errors == frame.get("leading_errors", []), outcomes
    assert len(readings) == 1, outcomes
    return readings[0]


APPLIES: Final[dict[str, Callable[[dict[str, Any]], bool]]] = {
    "values": lambda frame: "values" in frame,
    "meter_time": lambda frame: bool(frame.get("meter_time")),
    "identification": lambda frame: bool(frame.get("identification")),
}


def xfail_if(reason: str | None) -> list[pytest.MarkDecorator]:
    """A strict xfail carrying today's wrong outcome, or no mark."""
    if not reason:
        return []
    return [pytest.mark.xfail(strict=True, reason=f"today: {reason}")]


def params(aspect: str) -> list[Any]:
    """Frames a check applies to, marked xfail where today's outcome is wrong."""
    result = []
    for frame_id, frame in FRAMES.items():
        if "expect_error" in frame or not APPLIES[aspect](frame):
            continue
        today = frame["today"]
        reason = today.get("outcome") or today.get(aspect)
        result.append(pytest.param(frame_id, id=frame_id, marks=xfail_if(reason)))
    return result


def error_params() -> list[Any]:
    result = []
    for frame_id, frame in FRAMES.items():
        if "expect_error" not in frame:
            continue
        reason = frame["today"].get("outcome")
        result.append(pytest.param(frame_id, id=frame_id, marks=xfail_if(reason)))
    return result


# --- the data file itself -----------------------------------------------------------


def test_every_frame_names_its_source_and_the_basis_of_every_value() -> None:
    conventions = INTERNATIONAL["conventions"]
    assert len(FRAMES) == len(INTERNATIONAL["frames"])
    for frame in FRAMES.values():
        assert frame["source"]["repository"], frame["id"]
        assert frame["source"]["path"], frame["id"]
        assert frame["link"] in LINKS, frame["id"]
        assert set(frame["conventions"]) <= set(conventions), frame["id"]
        for code, entry in frame.get("values", {}).items():
            assert entry["basis"], (frame["id"], code)
            Unit(entry["unit"])  # every expected unit is one the package knows
        if frame.get("withheld"):
            assert frame["withheld_reason"], frame["id"]
        assert ("values" in frame) != ("expect_error" in frame), frame["id"]


def test_the_data_covers_the_meter_kinds_of_the_issue() -> None:
    countries = {frame["country"] for frame in FRAMES.values()}
    assert {"NO", "SE", "DK", "CH", "CY", "LU", "CZ"} <= countries
    meters = " ".join(frame["meter"] for frame in FRAMES.values())
    for kind in ("Kamstrup", "Kaifa", "Aidon", "E360", "E450", "E570", "AM550"):
        assert kind in meters, kind


# --- every frame against the decoder --------------------------------------------------


@pytest.mark.parametrize("frame_id", params("values"))
def test_values(frame_id: str) -> None:
    """Exactly the stated values and units; nothing with a unit no source gives."""
    frame = FRAMES[frame_id]
    reading = the_reading(frame)
    expected = frame["values"]
    withheld = set(frame.get("withheld", []))
    for code, entry in expected.items():
        assert code in reading.values, code
        actual = reading.values[code]
        assert actual.unit is Unit(entry["unit"]), code
        assert actual.value == pytest.approx(entry["value"], abs=1e-9), code
    for code, value in reading.values.items():
        if code in withheld:
            # Reported at most as a bare number, never with a guessed unit.
            assert value.unit is Unit.NONE, code
        else:
            assert code in expected, code


@pytest.mark.parametrize("frame_id", params("meter_time"))
def test_meter_time(frame_id: str) -> None:
    """The meter's own clock: the body's clock object where the push carries one."""
    stated = FRAMES[frame_id]["meter_time"]
    meter_time = the_reading(FRAMES[frame_id]).meter_time
    assert meter_time is not None
    meter_time = meter_time.replace(microsecond=0)
    if "utc" in stated:
        expected = datetime.fromisoformat(stated["utc"]).replace(tzinfo=UTC)
        assert meter_time == expected
        return
    assert meter_time.replace(tzinfo=None) == datetime.fromisoformat(stated["local"])
    if "utc_offset_minutes" in stated:
        offset = meter_time.utcoffset()
        assert offset is not None
        assert offset.total_seconds() == stated["utc_offset_minutes"] * 60


@pytest.mark.parametrize("frame_id", params("identification"))
def test_identification(frame_id: str) -> None:
    """The meter's own number (serial or logical device name) for a stable ID."""
    expected = FRAMES[frame_id]["identification"]["value"]
    reading = the_reading(FRAMES[frame_id])
    candidates = {reading.serial_number, reading.logical_device_name}
    assert expected in candidates
    identity = reading.identity
    assert identity.identifies_meter
    if not reading.system_title:
        # A plain push: what it carries is the meter id (never an empty one).
        assert identity.meter_id == expected.upper()
        assert expected in identity.title


def test_a_plain_push_without_identification_names_no_meter() -> None:
    """Norwegian list 1: one power value, no meter number."""
    identity = the_reading(FRAMES["NO-KAIFA-L1"]).identity
    assert not identity.identifies_meter
    assert identity.meter_id == ""


def test_the_logical_device_name_names_the_maker() -> None:
    identity = the_reading(FRAMES["CH-AM550-VSE2026"]).identity
    assert identity.meter_id == "ISK1030783821282"
    assert identity.manufacturer == "Iskraemeco"
    assert identity.title == "Iskraemeco ISK1030783821282"


@pytest.mark.parametrize(
    ("time_zone", "offset_hours"),
    [("Asia/Nicosia", 3), ("Europe/Vienna", 2), ("UTC", 0)],
)
def test_a_time_without_deviation_is_local_time_of_the_decoders_zone(
    time_zone: str, offset_hours: int
) -> None:
    """The Cyprus E450 sends its clock with the deviation "not specified"."""
    frame = FRAMES["CY-LGE450"]
    decoder = MeterDecoder(None, time_zone=time_zone)
    (reading,) = decoder.feed(bytes.fromhex(frame["hex"]))
    assert isinstance(reading, Reading)
    assert reading.meter_time is not None
    local = datetime.fromisoformat(frame["meter_time"]["local"])
    assert reading.meter_time.replace(tzinfo=None) == local
    offset = reading.meter_time.utcoffset()
    assert offset is not None
    assert offset.total_seconds() == offset_hours * 3600


def test_an_explicit_deviation_does_not_depend_on_the_zone() -> None:
    frame = FRAMES["NO-AIDON-L3"]
    readings = [
        MeterDecoder(None, time_zone=zone).feed(bytes.fromhex(frame["hex"]))[0]
        for zone in ("Europe/Oslo", "Asia/Nicosia")
    ]
    times = [reading.meter_time for reading in readings if isinstance(reading, Reading)]
    assert len(times) == 2
    assert times[0] == times[1]


def test_an_unknown_time_zone_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        MeterDecoder(None, time_zone="Mars/Olympus")


@pytest.mark.parametrize("frame_id", error_params())
def test_rejected_with_a_named_error(frame_id: str) -> None:
    frame = FRAMES[frame_id]
    (outcome,) = decode(frame)
    assert isinstance(outcome, DlmsError)
    assert outcome.kind in frame["expect_error"]
    assert str(outcome)


# --- unencrypted pushes and the authenticated Smarty telegram ------------------------


def test_plain_data_notification_on_the_apdu_link() -> None:
    frame = FRAMES["SE-KAIFA-OBIS-AMSHAN"]
    decoder = MeterDecoder(None, link=LinkLayer.APDU)
    outcomes = decoder.feed(bytes.fromhex(frame["hex"])) + decoder.flush()
    assert [type(item) for item in outcomes] == [Reading]


@pytest.mark.parametrize("split", [1, 5, 6, 7, 40, -1])
def test_plain_data_notifications_in_pieces_and_after_noise(split: int) -> None:
    # A plain push has no length: it ends where its body ends, however the
    # bytes arrive, and a 0F that starts no valid notification is skipped.
    apdu = bytes.fromhex(FRAMES["SE-KAIFA-OBIS-AMSHAN"]["hex"])
    stream = b"\x0f\x00\x00\x00\x01\x05" + apdu + apdu
    decoder = MeterDecoder(None, link=LinkLayer.APDU)
    outcomes = decoder.feed(stream[:split]) + decoder.feed(stream[split:])
    outcomes += decoder.flush()
    assert [type(item) for item in outcomes] == [Reading, Reading]


def test_a_cut_off_plain_notification_is_reported_at_the_end() -> None:
    apdu = bytes.fromhex(FRAMES["SE-KAIFA-OBIS-AMSHAN"]["hex"])
    decoder = MeterDecoder(None, link=LinkLayer.APDU)
    assert decoder.feed(apdu[:-3]) == []
    assert [error.kind for error in decoder.flush()] == ["framing"]


def test_smarty_without_authentication_key_is_not_called_a_wrong_key() -> None:
    frame = dict(FRAMES["LU-SMARTY-SAG"], auth_key=None)
    (outcome,) = decode(frame)
    assert isinstance(outcome, DlmsError)
    assert not isinstance(outcome, DecryptionError)
    assert outcome.kind == "malformed"
    assert "authentication key" in str(outcome)


def test_a_wrong_key_is_still_a_wrong_key() -> None:
    # The guard against wrong keys must survive whatever the fixes above change.
    frame = dict(FRAMES["DK-KAMSTRUP-OMNIPOWER"], key=bytes(16).hex(), auth_key=None)
    outcomes = decode(frame)
    assert [type(item) for item in outcomes] == [DecryptionError]


# --- the scaling rule ---------------------------------------------------------------


def _self_describing_push(name: bytes) -> Data:
    """A Swiss-style push of ``name``: voltage and current without scalers."""

    def descriptor(class_id: int, code: str) -> bytes:
        return axdr_structure(
            axdr_long_unsigned(class_id),
            axdr_obis(code),
            axdr_integer(2),
            axdr_long_unsigned(0),
        )

    return decode_data(
        axdr_structure(
            axdr_array(
                [
                    descriptor(40, "0-8:25.9.0"),
                    descriptor(1, "0-0:42.0.0"),
                    descriptor(3, "1-0:32.7.0"),
                    descriptor(3, "1-0:31.7.0"),
                    descriptor(3, "1-0:1.7.0"),
                ]
            ),
            axdr_octet_string(name),
            axdr_long_unsigned(2347),
            axdr_long_unsigned(12),
            axdr_double_long_unsigned(27),
        )
    )


def test_a_register_of_an_unknown_maker_has_no_unit_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    UNKNOWN._logged.clear()  # as in a fresh process
    for _ in range(2):
        values = map_body(_self_describing_push(b"XYZ1234567890123")).values
        assert values == {
            "1-0:32.7.0": MeterValue(2347, Unit.NONE),
            "1-0:31.7.0": MeterValue(12, Unit.NONE),
            "1-0:1.7.0": MeterValue(27, Unit.NONE),
        }
    logged = [record for record in caplog.records if "unit unknown" in record.message]
    assert [record.message.split()[2] for record in logged] == [
        "1-0:32.7.0",
        "1-0:31.7.0",
        "1-0:1.7.0",
    ]


def test_the_maker_in_the_logical_device_name_chooses_the_convention() -> None:
    values = map_body(_self_describing_push(b"LGZ1030781910790")).values
    # Landis+Gyr with push list 0-8:25.9.0 and no 0-0:96.1.1: the E570 lists,
    # whole amperes and volts.
    assert values["1-0:31.7.0"] == MeterValue(12, Unit.AMPERE)
    assert values["1-0:32.7.0"] == MeterValue(2347, Unit.VOLT)
    values = map_body(_self_describing_push(b"ISK1030783821282")).values
    assert values["1-0:31.7.0"] == MeterValue(0.12, Unit.AMPERE)
    assert values["1-0:32.7.0"] == MeterValue(234.7, Unit.VOLT)


# --- channel 1 registers ---------------------------------------------------------


def test_channel_1_registers_are_known_by_their_channel_0_codes() -> None:
    reading = the_reading(FRAMES["NO-KAMSTRUP-L3-3P"])
    moved = on_channel_0(reading)
    assert moved.values["1-0:1.7.0"] == reading.values["1-1:1.7.0"]
    assert moved.values["1-0:1.8.0"] == reading.values["1-1:1.8.0"]
    assert not any(code.startswith("1-1:") for code in moved.values)
    assert len(moved.values) == len(reading.values)
    assert moved.meter_time == reading.meter_time
    # The reading itself keeps the codes the meter sent.
    assert "1-1:1.7.0" in reading.values


def test_a_code_sent_on_both_channels_keeps_its_channel() -> None:
    reading = the_reading(FRAMES["NO-KAMSTRUP-L3-3P"])
    both = replace(
        reading, values={**reading.values, "1-0:1.7.0": MeterValue(1, Unit.WATT)}
    )
    moved = on_channel_0(both)
    assert moved.values["1-0:1.7.0"] == MeterValue(1, Unit.WATT)
    assert moved.values["1-1:1.7.0"] == reading.values["1-1:1.7.0"]


def test_a_reading_on_channel_0_comes_back_unchanged() -> None:
    reading = the_reading(FRAMES["NO-KAIFA-L3-3P"])
    assert on_channel_0(reading) is reading
