"""AMIS telegrams through the command-line tool: ``decode`` and ``simulate --amis``."""

from __future__ import annotations

import json
import os
import socket
from typing import TYPE_CHECKING, Any

import pytest

from custom_components.dlms_smartmeter.dlms import MeterDecoder, Reading
from custom_components.dlms_smartmeter.dlms.cli import main
from custom_components.dlms_smartmeter.dlms.simulator import DEMO_ENCRYPTION_KEY
from tests.data import AMIS
from tests.dlms.simulate_process import simulated

if TYPE_CHECKING:
    from pathlib import Path

KINDS = {
    "wrong_key": "decryption",
    "checksum": "checksum",
    "record_layout": "malformed",
    "config_word": "malformed",
    "truncated": "framing",
}


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests choose the key sources themselves."""
    monkeypatch.delenv("DLMS_KEY", raising=False)
    monkeypatch.delenv("DLMS_AUTH_KEY", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[Any]]:
    status = main(list(argv))
    out, _err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize("vector", AMIS["vectors"], ids=lambda vector: vector["id"])
def test_decode_prints_each_vector(
    capsys: pytest.CaptureFixture[str], vector: dict[str, Any]
) -> None:
    status, (record,) = run(
        capsys, "decode", "--key", vector["key"], vector["frame_hex"]
    )
    if "expect_error" in vector:
        assert status == 1
        assert record["error"] == KINDS[vector["expect_error"]]
        assert vector["key"].lower() not in record["message"].lower()
        return
    assert status == 0
    expected = dict(vector["expected"])
    moment = expected.pop("datetime")
    assert list(record) == [
        "system_title",
        "manufacturer",
        "invocation_counter",
        "security",
        "meter_time",
        "values",
    ]
    assert record["manufacturer"] == "SAM"
    assert record["system_title"] == "53414D0000000001"
    assert record["security"] == "encrypted"
    assert record["invocation_counter"] is None
    if moment["value"] is None:
        assert record["meter_time"] is None
    else:
        offset = "+02:00" if moment["summer_time"] else "+01:00"
        assert record["meter_time"] == moment["value"] + offset
    assert record["values"] == {
        code: {"value": value["value"], "unit": value["unit"]}
        for code, value in expected.items()
    }


def test_decode_prints_the_stream_and_the_real_telegrams(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = AMIS["streams"][0]
    status, records = run(
        capsys, "decode", "--key", stream["key"], stream["stream_hex"]
    )
    assert status == 0
    assert [record["meter_time"] for record in records] == [
        "2015-06-20T23:36:02+02:00",
        "2015-06-20T23:36:03+02:00",
    ]
    for check in AMIS["public_checks"]:
        status, (record,) = run(
            capsys, "decode", "--key", check["key"], check["frame_hex"]
        )
        assert status == 0
        assert record["meter_time"] == check["meter_time"]
        values = {code: value["value"] for code, value in record["values"].items()}
        assert values == check["values"]


def test_simulate_amis_needs_a_two_way_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--amis"]) == 2
    assert "--pty or --tcp" in capsys.readouterr().err


def test_simulate_amis_over_tcp_only_sends_while_acknowledged(
    socket_enabled: None,
) -> None:
    """The simulated meter searches, then sends data while it gets E5."""
    readings: list[Reading] = []
    tcp = ("--tcp", "0", "--interval", "0.02", "--search-interval", "0.2")
    with simulated("--amis", *tcp) as (url, _errors):
        host, port = url.removeprefix("socket://").split(":")
        decoder = MeterDecoder(DEMO_ENCRYPTION_KEY)
        with socket.create_connection((host, int(port)), timeout=30) as client:
            while len(readings) < 3:
                data = client.recv(4096)
                assert data
                readings += [i for i in decoder.feed(data) if isinstance(i, Reading)]
                client.sendall(decoder.pop_replies())
    assert readings[0].values["1-0:1.7.0"].value == 1250


def test_simulate_amis_on_a_pty(tmp_path: Path) -> None:
    """``simulate --amis --pty``: the link appears, Ctrl-C removes it."""
    link = tmp_path / "ttyAMIS"
    with simulated("--amis", "--pty", str(link), "--search-interval", "0.1") as (
        path,
        _,
    ):
        assert path == str(link)
        port = os.open(link, os.O_RDWR | os.O_NOCTTY)
        try:
            assert os.read(port, 5) == bytes.fromhex(AMIS["snd_nke_hex"])
        finally:
            os.close(port)
    assert not link.exists()
