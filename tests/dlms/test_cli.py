"""The command-line tool: ``decode`` and ``simulate``."""

from __future__ import annotations

import io
import json
import os
import runpy
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from custom_components.dlms_smartmeter.dlms import DlmsError, MeterDecoder, Reading
from custom_components.dlms_smartmeter.dlms.cli import (
    main,
    parse_hex,
    reading_json_line,
    reading_to_json,
)
from custom_components.dlms_smartmeter.dlms.reading import MeterValue, Unit
from custom_components.dlms_smartmeter.dlms.simulator import DEMO_ENCRYPTION_KEY
from tests.data import DATA, REPOSITORY, VECTORS
from tests.data.appendix_frames import SEED_STEVE_GOOD, SEED_STEVE_SHORT
from tests.dlms.simulate_process import simulated

if TYPE_CHECKING:
    from pathlib import Path

AM550 = VECTORS["WN-AM550-1"]
KEY = AM550["key"]
FRAME = bytes.fromhex(AM550["input_hex"])
EXPECTED = {
    "system_title": "49534B69743C103F",
    "manufacturer": "ISK",
    "invocation_counter": 0x0010D9E2,
    "security": "encrypted",
    "meter_time": "2021-10-21T06:44:02+02:00",
    "values": {
        "1-0:1.8.0": {"value": 855, "unit": "Wh"},
        "1-0:2.8.0": {"value": 246, "unit": "Wh"},
        "1-0:3.8.0": {"value": 103, "unit": "varh"},
        "1-0:4.8.0": {"value": 169, "unit": "varh"},
        "1-0:1.7.0": {"value": 0, "unit": "W"},
        "1-0:2.7.0": {"value": 0, "unit": "W"},
        "1-0:3.7.0": {"value": 0, "unit": "var"},
        "1-0:4.7.0": {"value": 0, "unit": "var"},
    },
}
WRONG_KEY = "00112233445566778899AABBCCDDEEFF"


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests choose the key sources themselves."""
    monkeypatch.delenv("DLMS_KEY", raising=False)
    monkeypatch.delenv("DLMS_AUTH_KEY", raising=False)


def run(
    capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, list[dict[str, Any]], str]:
    """Run the tool in-process: exit status, JSON lines, standard error."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def forum_style(frame: bytes) -> str:
    """A frame as posted on forums: upper-case hex pairs separated by spaces."""
    return " ".join(f"{byte:02X}" for byte in frame)


# --- decode ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "pasted",
    [
        FRAME.hex(),
        FRAME.hex().upper(),
        forum_style(FRAME),
        " ".join(f"0x{byte:02x}" for byte in FRAME),
        "0x" + FRAME.hex(),
        "\n".join(FRAME.hex()[i : i + 64] for i in range(0, len(FRAME.hex()), 64)),
        ":".join(f"{byte:02x}" for byte in FRAME),
    ],
    ids=["lower", "upper", "forum", "0x-each", "0x-once", "lines", "colons"],
)
def test_decode_accepts_pasted_forms(
    capsys: pytest.CaptureFixture[str], pasted: str
) -> None:
    status, records, err = run(capsys, "decode", "--key", KEY, pasted)
    assert status == 0
    assert records == [EXPECTED]
    assert err == ""


def test_decode_json_has_exactly_the_documented_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _status, (record,), _err = run(capsys, "decode", "--key", KEY, FRAME.hex())
    assert list(record) == [
        "system_title",
        "manufacturer",
        "invocation_counter",
        "security",
        "meter_time",
        "values",
    ]


def test_decode_several_frames_in_one_string(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pocki = VECTORS["WN-AM550-4-pocki"]
    text = forum_style(FRAME) + "\n\n" + forum_style(FRAME)
    status, records, _err = run(capsys, "decode", "--key", KEY, text)
    assert status == 0
    assert records == [EXPECTED, EXPECTED]
    # Several arguments, each decoded with the same key.
    status, records, _err = run(
        capsys, "decode", "--key", pocki["key"], pocki["input_hex"], pocki["input_hex"]
    )
    assert status == 0
    assert [record["values"]["1-0:1.8.0"]["value"] for record in records] == [
        4490428,
        4490428,
    ]


def test_decode_reads_hex_from_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(forum_style(FRAME) + "\n"))
    status, records, _err = run(capsys, "decode", "--key", KEY)
    assert (status, records) == (0, [EXPECTED])


def test_decode_reads_raw_bytes_with_binary(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    capture = tmp_path / "capture.bin"
    capture.write_bytes(b"\x00\x13garbage" + FRAME + FRAME[:40])
    status, records, _err = run(
        capsys, "decode", "--key", KEY, "--binary", str(capture)
    )
    assert status == 1
    assert records[0] == EXPECTED
    assert records[1]["error"] == "framing"
    assert "incomplete frame" in records[1]["message"]
    # "-" reads the bytes from standard input.
    stdin = io.TextIOWrapper(io.BytesIO(FRAME))
    monkeypatch.setattr(sys, "stdin", stdin)
    status, records, _err = run(capsys, "decode", "--key", KEY, "--binary", "-")
    assert (status, records) == (0, [EXPECTED])


def test_decode_key_from_file_and_environment(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY.lower() + "\n", encoding="utf-8")
    status, records, _err = run(
        capsys, "decode", "--key-file", str(key_file), FRAME.hex()
    )
    assert (status, records) == (0, [EXPECTED])

    monkeypatch.setenv("DLMS_KEY", " ".join(KEY[i : i + 2] for i in range(0, 32, 2)))
    status, records, _err = run(capsys, "decode", FRAME.hex())
    assert (status, records) == (0, [EXPECTED])
    # An explicit --key wins over the environment.
    status, records, _err = run(capsys, "decode", "--key", WRONG_KEY, FRAME.hex())
    assert status == 1
    assert records[0]["error"] == "decryption"


def test_decode_wrong_key_reports_decryption_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, records, err = run(capsys, "decode", "--key", WRONG_KEY, FRAME.hex())
    assert status == 1
    assert len(records) == 1
    assert records[0]["error"] == "decryption"
    assert "key" in records[0]["message"]
    assert WRONG_KEY not in json.dumps(records) + err
    assert WRONG_KEY.lower() not in json.dumps(records) + err


def test_decode_without_key_cannot_decrypt(capsys: pytest.CaptureFixture[str]) -> None:
    status, records, _err = run(capsys, "decode", FRAME.hex())
    assert status == 1
    assert records[0]["error"] == "decryption"
    assert "no key" in records[0]["message"]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (KEY[:-1], "must be 32 hexadecimal characters, got 31"),
        (KEY + "00", "got 34"),
        ("G" + KEY[1:], "only contain hexadecimal characters"),
    ],
)
def test_decode_bad_key_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], key: str, message: str
) -> None:
    status, records, err = run(capsys, "decode", "--key", key, FRAME.hex())
    assert status == 2
    assert records == []
    assert "--key:" in err
    assert message in err
    assert key not in err
    assert key[2:30] not in err


def test_bad_key_in_environment_or_file_names_the_source(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("DLMS_KEY", "abc")
    status, _records, err = run(capsys, "decode", FRAME.hex())
    assert status == 2
    assert "DLMS_KEY: the key must be 32 hexadecimal characters, got 3" in err
    status, _records, err = run(
        capsys, "decode", "--key-file", str(tmp_path / "missing"), FRAME.hex()
    )
    assert status == 2
    assert "--key-file: cannot read" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("7e a0 zz", "unexpected character 'z'"),
        ("7ea", "odd number of hex digits (3)"),
    ],
)
def test_decode_invalid_hex_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    status, records, err = run(capsys, "decode", "--key", KEY, text)
    assert status == 2
    assert records == []
    assert message in err


def test_decode_no_frame_found(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, records, _err = run(capsys, "decode", "--key", KEY, "00 11 22 33")
    assert status == 1
    assert records == [{"error": "framing", "message": "no frame found in the input"}]
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    status, records, _err = run(capsys, "decode", "--key", KEY)
    assert status == 1
    assert records[0]["error"] == "framing"


def test_decode_seed_frames_short_one_is_a_checksum_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The three consecutive AM550 frames from the forum: the middle one lost bytes."""
    first, third = SEED_STEVE_GOOD
    pasted = "\n\n".join(
        forum_style(frame) for frame in (first, SEED_STEVE_SHORT, third)
    )
    status, records, _err = run(capsys, "decode", "--key", WRONG_KEY, pasted)
    assert status == 1
    # The key of that meter was never published: the full frames do not decrypt.
    assert [record["error"] for record in records] == [
        "decryption",
        "checksum",
        "decryption",
    ]


def test_decode_authenticated_frame(capsys: pytest.CaptureFixture[str]) -> None:
    vector = VECTORS["BGLD-E450-1"]
    status, (record,), _err = run(
        capsys,
        "decode",
        "--key",
        vector["key"],
        "--auth-key",
        vector["auth_key"],
        vector["input_hex"],
    )
    assert status == 0
    assert record["security"] == "authenticated"
    assert record["manufacturer"] == "LGZ"
    assert record["values"]["1-0:71.7.0"] == {"value": 0.26, "unit": "A"}
    # Without the authentication key the frame decrypts but is not checked.
    status, (record,), _err = run(
        capsys, "decode", "--key", vector["key"], vector["input_hex"]
    )
    assert (status, record["security"]) == (0, "encrypted")
    # With a wrong one the tag does not verify.
    status, (record,), _err = run(
        capsys,
        "decode",
        "--key",
        vector["key"],
        "--auth-key",
        WRONG_KEY,
        vector["input_hex"],
    )
    assert status == 1
    assert record["error"] == "authentication"


def test_decode_link_option(capsys: pytest.CaptureFixture[str]) -> None:
    vector = VECTORS["NOE-KAIFA-DOC"]
    arguments = ["decode", "--key", vector["key"], vector["input_hex"]]
    status, (record,), _err = run(
        capsys, *arguments[:1], "--link", "mbus", *arguments[1:]
    )
    assert status == 0
    assert record["values"]["1-0:32.7.0"] == {"value": 233.7, "unit": "V"}
    assert record["values"]["1-0:13.7.0"] == {"value": 1.0, "unit": ""}
    status, records, _err = run(
        capsys, *arguments[:1], "--link", "hdlc", *arguments[1:]
    )
    assert status == 1
    assert records == [{"error": "framing", "message": "no frame found in the input"}]


def test_parse_hex_ignores_what_people_paste_around_the_digits() -> None:
    assert parse_hex("0x7E, 0xA0;\t'7e'") == b"\x7e\xa0\x7e"
    assert parse_hex("") == b""


def test_decode_as_a_real_process(tmp_path: Path) -> None:
    """``python -m custom_components.dlms_smartmeter.dlms decode`` end to end.

    The key comes from the environment, so it is not in the process list.
    """
    environment = os.environ | {"DLMS_KEY": KEY, "PYTHONPATH": str(REPOSITORY)}
    result = subprocess.run(  # noqa: S603 - a fixed command line
        [
            sys.executable,
            "-m",
            "custom_components.dlms_smartmeter.dlms",
            "decode",
            forum_style(FRAME),
        ],
        capture_output=True,
        text=True,
        # From the repository root, so that coverage measurement of the child
        # process finds the project's coverage settings.
        cwd=REPOSITORY,
        env=environment,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [EXPECTED]


# --- simulate -------------------------------------------------------------------


def decode_all(data: bytes, key: bytes = DEMO_ENCRYPTION_KEY) -> list[Reading]:
    decoder = MeterDecoder(key)
    outcomes = decoder.feed(data) + decoder.flush()
    assert all(isinstance(outcome, Reading) for outcome in outcomes), outcomes
    return [outcome for outcome in outcomes if isinstance(outcome, Reading)]


def test_simulate_to_standard_output(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    status = main(["simulate", "--count", "3", "--interval", "0"])
    out, err = capsysbinary.readouterr()
    assert status == 0
    readings = decode_all(out)
    assert len(readings) == 3
    counters = [reading.invocation_counter or 0 for reading in readings]
    assert counters == [counters[0], counters[0] + 1, counters[0] + 2]
    assert all(reading.layout == "wiener_netze" for reading in readings)
    # The demo key is shown so that a reader can be set up with it.
    assert DEMO_ENCRYPTION_KEY.hex().upper().encode() in err


def test_simulate_layout_key_and_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    output = tmp_path / "frames.bin"
    status = main(
        [
            "simulate",
            "--key",
            WRONG_KEY,
            "--layout",
            "obis_flat_triples",
            "--count",
            "2",
            "--interval",
            "0",
            "--push-interval",
            "5",
            "--output",
            str(output),
        ]
    )
    _out, err = capsys.readouterr()
    assert status == 0
    assert WRONG_KEY in err
    readings = decode_all(output.read_bytes(), bytes.fromhex(WRONG_KEY))
    assert [reading.layout for reading in readings] == ["obis_flat_triples"] * 2
    first, second = readings
    assert first.meter_time is not None
    assert second.meter_time is not None
    assert (second.meter_time - first.meter_time).total_seconds() == 5
    assert output.read_bytes()[:4] == b"\x68\xfa\xfa\x68"  # M-Bus, as in Lower Austria


def test_simulate_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--count", "0"]) == 2
    assert "--count must be at least 1" in capsys.readouterr().err
    assert main(["simulate", "--layout", "nonsense"]) == 2
    assert main(["simulate", "--key", "123"]) == 2
    assert "123" not in capsys.readouterr().err.split("error:")[-1]
    assert main([]) == 2
    assert main(["--help"]) == 0


def test_simulate_virtual_serial_port(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``simulate --pty``: frames can be read from the link it prints."""
    link = tmp_path / "ttyMETER"
    status: list[int] = []
    thread = threading.Thread(
        target=lambda: status.append(
            main(
                ["simulate", "--pty", str(link), "--count", "40", "--interval", "0.02"]
            )
        )
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not link.is_symlink() and time.monotonic() < deadline:
            time.sleep(0.005)
        fd = os.open(link, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        received = b""
        try:
            while thread.is_alive() or not received:
                time.sleep(0.01)
                try:
                    received += os.read(fd, 4096)
                except BlockingIOError:
                    continue
                except OSError:  # the simulator closed the port
                    break
        finally:
            os.close(fd)
    finally:
        thread.join(timeout=20)
    assert status == [0]
    readings = decode_all(received)
    assert len(readings) >= 5
    counters = [reading.invocation_counter or 0 for reading in readings]
    assert counters == list(range(counters[0], counters[0] + len(counters)))
    out, _err = capsys.readouterr()
    assert out.splitlines()[0] == str(link)
    assert not link.exists()  # removed when the simulator stops


def test_module_entry_point(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``__main__`` runs the tool and exits with its status."""
    monkeypatch.setattr(sys, "argv", ["dlms", "decode", "--key", KEY, FRAME.hex()])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("custom_components.dlms_smartmeter.dlms", run_name="__main__")
    assert exit_info.value.code == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [
        EXPECTED
    ]


def test_unreadable_inputs_and_outputs_are_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "missing" / "file"
    assert main(["decode", "--key", KEY, "--binary", str(missing)]) == 2
    assert "--binary: cannot read" in capsys.readouterr().err
    assert main(["simulate", "--count", "1", "--output", str(missing)]) == 2
    assert "--output: cannot open" in capsys.readouterr().err
    assert main(["simulate", "--interval", "-1"]) == 2
    assert "--interval must not be negative" in capsys.readouterr().err
    assert main(["simulate", "--push-interval", "0"]) == 2
    assert "--push-interval must be at least 1 second" in capsys.readouterr().err
    occupied = tmp_path / "file"
    occupied.write_bytes(b"")
    assert main(["simulate", "--count", "1", "--pty", str(occupied)]) == 2
    assert "--pty: cannot create" in capsys.readouterr().err


def test_unusable_tcp_port_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], socket_enabled: None
) -> None:
    assert main(["simulate", "--count", "1", "--tcp", "70000"]) == 2
    assert "--tcp: cannot listen on port 70000" in capsys.readouterr().err


def test_simulate_stops_quietly_when_the_reader_goes_away(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``simulate | head -c 100``: a closed pipe ends the simulation with status 0."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w") as closed_pipe:
        monkeypatch.setattr(sys, "stdout", closed_pipe)
        assert main(["simulate", "--interval", "0"]) == 0


def test_simulate_tcp_server(
    capsys: pytest.CaptureFixture[str], socket_enabled: None
) -> None:
    """``simulate --tcp 0``: prints the socket URL; a client receives frames."""
    status: list[int] = []
    thread = threading.Thread(
        target=lambda: status.append(
            main(["simulate", "--tcp", "0", "--count", "60", "--interval", "0.02"])
        )
    )
    thread.start()
    received = b""
    try:
        output = ""
        deadline = time.monotonic() + 10
        while "socket://" not in output and time.monotonic() < deadline:
            time.sleep(0.01)
            output += capsys.readouterr().out
        port = int(output.split("socket://127.0.0.1:")[1].split()[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            while chunk := client.recv(4096):
                received += chunk
    finally:
        thread.join(timeout=20)
    assert status == [0]
    readings = decode_all(received)
    assert len(readings) >= 5
    counters = [reading.invocation_counter or 0 for reading in readings]
    assert counters == list(range(counters[0], counters[0] + len(counters)))


def test_simulate_process_cleans_up_on_interrupt(tmp_path: Path) -> None:
    """Ctrl-C ends ``simulate --pty`` with status 0 and removes the port's link."""
    link = tmp_path / "ttyMETER"
    with simulated("--pty", str(link), "--interval", "0.05") as (first_line, _err):
        assert first_line == str(link)
        port = os.open(link, os.O_RDONLY | os.O_NOCTTY)
        decoder = MeterDecoder(DEMO_ENCRYPTION_KEY)
        readings: list[Reading | DlmsError] = []
        try:
            while len(readings) < 2:
                readings += decoder.feed(os.read(port, 4096))
        finally:
            os.close(port)
        assert all(isinstance(reading, Reading) for reading in readings)
    assert not link.exists()


def _vector_readings() -> list[Reading]:
    readings = []
    for vector in VECTORS.values():
        keys = [
            bytes.fromhex(vector[name]) if vector[name] else None
            for name in ("key", "auth_key")
        ]
        decoder = MeterDecoder(*keys)
        readings += [
            outcome
            for outcome in decoder.feed(bytes.fromhex(vector["input_hex"]))
            if isinstance(outcome, Reading)
        ]
    return readings


def test_json_lines_are_the_json_of_the_documented_object() -> None:
    readings = _vector_readings()
    assert len(readings) > 10
    # Values, units and fields the frames do not show: floats, no unit, the
    # degree sign, a missing counter, time and manufacturer.
    odd = Reading(
        system_title=bytes(8),
        invocation_counter=None,
        security=readings[0].security,
        meter_time=None,
        values={
            "1-0:32.7.0": MeterValue(233.7, Unit.VOLT),
            "1-0:81.7.4": MeterValue(-12, Unit.DEGREE),
            "1-0:13.7.0": MeterValue(1e-05, Unit.NONE),
            "1-0:1.8.0*101": MeterValue(2**63, Unit.WATT_HOUR),
        },
        layout="obis_triples",
    )
    for reading in [*readings, odd, odd]:
        assert reading_json_line(reading) == json.dumps(reading_to_json(reading))


def test_decode_reads_a_clock_without_offset_in_the_given_zone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The Cyprus E450 sends its clock as local time without a deviation."""
    frame = next(
        frame
        for frame in json.loads(
            (DATA / "international.json").read_text(encoding="utf-8")
        )["frames"]
        if frame["id"] == "CY-LGE450"
    )
    assert main(["decode", "--time-zone", "Asia/Nicosia", frame["hex"]]) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert line["meter_time"] == "2026-06-08T18:46:04+03:00"
    assert main(["decode", "--time-zone", "Nowhere/Land", frame["hex"]]) == 2
    assert "--time-zone" in capsys.readouterr().err
