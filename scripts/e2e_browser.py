"""Browser half of the end-to-end test; ``scripts/e2e`` runs it.

``run``
    Completes onboarding through Home Assistant's HTTP API, then drives
    headless Chromium (Debian's ``/usr/bin/chromium``, through Playwright)
    through the web UI as a user does: add the integration, read the device
    page, set up the Energy dashboard, and try a wrong key. Each step saves a
    screenshot; the first failing step ends the run with a message naming it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass
import json
import math
import os
from pathlib import Path
import re
import sys
import time
from typing import TYPE_CHECKING, Any, Final, TextIO
import urllib.parse
import urllib.request

import aiohttp
from playwright.sync_api import Error as PlaywrightError, sync_playwright

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from playwright.sync_api import ConsoleMessage, Locator, Page, ViewportSize

DOMAIN: Final = "dlms_smartmeter"
INTEGRATION_TITLE: Final = "DLMS Smart Meter"
REPO_ROOT: Final = Path(__file__).resolve().parent.parent
INTEGRATION_DIR: Final = REPO_ROOT / "custom_components" / DOMAIN

CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT: Final[ViewportSize] = {"width": 1280, "height": 900}

USER_NAME: Final = "E2E"
USER_LOGIN: Final = "e2e"
USER_PASSWORD: Final = "e2e-password-not-secret"  # noqa: S105 - throwaway instance

STARTUP_TIMEOUT: Final = 300.0
UI_TIMEOUT_MS: Final = 30_000
VALUE_TIMEOUT: Final = 60.0
STATISTICS_TIMEOUT: Final = 360.0

# Sensors checked on the device page: translation key -> the OBIS codes of
# the meter's values that make it up, with their signs.
CHECKED_SENSORS: Final[dict[str, tuple[tuple[str, int], ...]]] = {
    "energy_import": (("1-0:1.8.0", 1),),
    "energy_export": (("1-0:2.8.0", 1),),
    "power_import": (("1-0:1.7.0", 1),),
    "power_export": (("1-0:2.7.0", 1),),
    "net_power": (("1-0:1.7.0", 1), ("1-0:2.7.0", -1)),
}
# Unit -> (base unit, factor to it).
UNIT_FACTORS: Final = {
    "Wh": ("Wh", 1.0),
    "kWh": ("Wh", 1e3),
    "MWh": ("Wh", 1e6),
    "W": ("W", 1.0),
    "kW": ("W", 1e3),
    "MW": ("W", 1e6),
}


class StepFailedError(Exception):
    """A step of the test failed; the message says which and why."""


def expect(condition: object, message: str) -> None:
    """Fail the current step with ``message`` unless ``condition`` holds."""
    if not condition:
        raise StepFailedError(message)


# --------------------------------------------------------------------------
# Home Assistant's HTTP and WebSocket APIs


@dataclass(frozen=True, slots=True)
class Tokens:
    """The owner's tokens, as the web UI keeps them."""

    access_token: str
    refresh_token: str
    expires_in: int


def _http(
    url: str,
    data: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    form: bool = False,
) -> Any:
    headers: dict[str, str] = {}
    body: bytes | None = None
    if data is not None:
        if form:
            body = urllib.parse.urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - the URL is the local instance
        url, data=body, headers=headers, method="GET" if data is None else "POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        payload = response.read()
    return json.loads(payload) if payload else None


def wait_for_home_assistant(base_url: str, pid: int) -> float:
    """Wait until the HTTP API answers; return the seconds that took."""
    started = time.monotonic()
    while True:
        try:
            _http(f"{base_url}/api/onboarding")
        except OSError:  # refused or reset; URLError is an OSError too
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                raise StepFailedError(
                    "Home Assistant exited during its start (see home-assistant.log)"
                ) from None
            if time.monotonic() - started > STARTUP_TIMEOUT:
                raise StepFailedError(
                    f"Home Assistant did not answer on {base_url} within "
                    f"{STARTUP_TIMEOUT:.0f} s (see home-assistant.log)"
                ) from None
            time.sleep(1)
        else:
            return time.monotonic() - started


def _onboarding_steps(base_url: str) -> dict[str, bool]:
    return {step["step"]: step["done"] for step in _http(f"{base_url}/api/onboarding")}


def onboard(base_url: str) -> Tokens:
    """Create the owner and finish every onboarding step; return the tokens."""
    client_id = f"{base_url}/"
    expect(
        not any(_onboarding_steps(base_url).values()),
        "onboarding was already started: not a fresh instance",
    )
    created = _http(
        f"{base_url}/api/onboarding/users",
        {
            "client_id": client_id,
            "name": USER_NAME,
            "username": USER_LOGIN,
            "password": USER_PASSWORD,
            "language": "en",
        },
    )
    granted = _http(
        f"{base_url}/auth/token",
        {
            "grant_type": "authorization_code",
            "code": created["auth_code"],
            "client_id": client_id,
        },
        form=True,
    )
    tokens = Tokens(
        granted["access_token"], granted["refresh_token"], int(granted["expires_in"])
    )
    token = tokens.access_token
    _http(f"{base_url}/api/onboarding/core_config", {}, token=token)
    _http(f"{base_url}/api/onboarding/analytics", {}, token=token)
    _http(
        f"{base_url}/api/onboarding/integration",
        {"client_id": client_id, "redirect_uri": f"{client_id}?auth_callback=1"},
        token=token,
    )
    steps = _onboarding_steps(base_url)
    expect(all(steps.values()), f"onboarding steps left open: {steps}")
    return tokens


async def _websocket_command(
    base_url: str, token: str, command: dict[str, Any]
) -> dict[str, Any]:
    websocket_url = base_url.replace("http", "ws", 1) + "/api/websocket"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(websocket_url) as websocket,
    ):
        await websocket.receive_json()  # auth_required
        await websocket.send_json({"type": "auth", "access_token": token})
        if (await websocket.receive_json())["type"] != "auth_ok":
            raise StepFailedError("the WebSocket API refused the owner's token")
        await websocket.send_json({"id": 1, **command})
        while True:
            reply: dict[str, Any] = await websocket.receive_json()
            if reply.get("id") == 1 and reply.get("type") == "result":
                return reply


def confirm_http_settings(base_url: str, token: str) -> None:
    """Keep the ``http:`` settings of configuration.yaml.

    Home Assistant 2026.10 and later move them into storage as a trial that
    falls back to port 8123 after five minutes unless the user confirms it
    (a dialog in the UI). Older releases have no such command and need
    nothing.
    """
    settings = asyncio.run(_websocket_command(base_url, token, {"type": "http/config"}))
    if settings["success"] and settings["result"].get("pending"):
        promoted = asyncio.run(
            _websocket_command(base_url, token, {"type": "http/config/promote"})
        )
        expect(promoted["success"], f"could not confirm the HTTP settings: {promoted}")


# --------------------------------------------------------------------------
# Expected values: what the simulated meter sent


def sent_values(
    readings: Path, terms: tuple[tuple[str, int], ...]
) -> list[tuple[float, str]]:
    """Each frame's sum of the values ``terms`` names, with its unit, oldest first."""
    sums = []
    for line in readings.read_text(encoding="utf-8").splitlines():
        if line.strip():
            values = json.loads(line)["values"]
            total = sum(sign * float(values[code]["value"]) for code, sign in terms)
            sums.append((total, str(values[terms[0][0]]["unit"])))
    return sums


def to_base_unit(value: float, unit: str) -> tuple[float, str]:
    """``value`` in W or Wh, with that unit."""
    expect(unit in UNIT_FACTORS, f"unexpected unit {unit!r}")
    base, factor = UNIT_FACTORS[unit]
    return value * factor, base


@dataclass(frozen=True, slots=True)
class ShownValue:
    """A number with its unit as the page shows it, e.g. ``1,753.708 kWh``."""

    number: float
    decimals: int
    unit: str

    @classmethod
    def parse(cls, text: str) -> ShownValue:
        """Read the English UI's format: thousands with commas, unit after."""
        match = re.search(r"(-?[\d,]*\d(?:\.(\d+))?)\s*([A-Za-z]+)", text)
        if match is None:
            raise StepFailedError(f"no number with a unit in {text!r}")
        number, decimals, unit = match.groups()
        return cls(float(number.replace(",", "")), len(decimals or ""), unit)

    def matches(self, value: float, unit: str) -> bool:
        """Whether the meter's ``value`` in ``unit`` is shown as this, rounded."""
        shown, shown_unit = to_base_unit(self.number, self.unit)
        sent, sent_unit = to_base_unit(value, unit)
        resolution, _ = to_base_unit(10.0**-self.decimals, self.unit)
        return shown_unit == sent_unit and math.isclose(
            shown, sent, abs_tol=resolution / 2
        )


# --------------------------------------------------------------------------
# The browser test


@dataclass(frozen=True, slots=True)
class Options:
    """Command-line options of ``run``."""

    url: str
    artifacts: Path
    meter_port: str
    meter_key: str
    readings: Path
    other_meter_port: str
    other_meter_key: str
    ha_log: Path
    hass_pid: int


def _translations() -> dict[str, Any]:
    path = INTEGRATION_DIR / "translations" / "en.json"
    translations: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return translations


class BrowserTest:
    """The steps, in the order a user takes them."""

    def __init__(self, options: Options, page: Page) -> None:
        """Drive ``page`` against the Home Assistant of ``options``."""
        self.options = options
        self.page = page
        self.started = time.monotonic()
        self.step_number = 0
        self.passed = 0
        self.step_label = ""
        self.device: dict[str, Any] = {}
        self.sensors: dict[str, dict[str, Any]] = {}

    # --- plumbing ---------------------------------------------------------

    def log(self, message: str) -> None:
        """Print a progress line with the seconds since the browser started."""
        elapsed = time.monotonic() - self.started
        print(f"[browser {elapsed:5.1f}s] {message}", flush=True)

    def screenshot(self, suffix: str = "") -> None:
        """Save the viewport as ``NN-step[-suffix].png``."""
        name = self.step_label + (f"-{suffix}" if suffix else "")
        self.page.screenshot(path=str(self.options.artifacts / f"{name}.png"))

    @contextlib.contextmanager
    def step(self, name: str, what: str, *, screenshot: bool = True) -> Iterator[None]:
        """Run one step; screenshot at its end, or on failure, then stop."""
        self.step_number += 1
        self.step_label = f"{self.step_number:02d}-{name}"
        began = time.monotonic()
        self.log(f"step {self.step_label}: {what}")
        try:
            yield
        except (PlaywrightError, StepFailedError, OSError, KeyError) as error:
            with contextlib.suppress(PlaywrightError):
                self.screenshot("FAILED")
            detail = str(error).strip()
            if isinstance(error, PlaywrightError):
                # The message, then the call log: keep what was waited for.
                lines = [line.strip() for line in detail.splitlines()]
                detail = " ".join(
                    lines[:1] + [ln for ln in lines if "locator" in ln][:2]
                )
            message = f"step {self.step_label} ({what}): {type(error).__name__}"
            raise StepFailedError(f"{message}: {detail}") from error
        if screenshot:
            self.screenshot()
        self.passed += 1
        self.log(f"step {self.step_label} passed in {time.monotonic() - began:.1f} s")

    def wait_for_frontend(self) -> None:
        """Wait until the frontend is connected to Home Assistant."""
        self.page.wait_for_function(
            "() => document.querySelector('home-assistant')?.hass?.connected === true",
            timeout=UI_TIMEOUT_MS * 2,
        )

    def call_ws(self, message: dict[str, Any]) -> Any:
        """A WebSocket command over the frontend's own connection."""
        reply = self.page.evaluate(
            "async (message) => { try { return {result: await document"
            ".querySelector('home-assistant').hass.callWS(message)}; } catch (err) "
            "{ return {error: typeof err === 'object' ? JSON.stringify(err) : "
            "String(err)}; } }",
            message,
        )
        if "error" in reply:
            error = reply["error"]
            if error == "3":  # the frontend's code for a lost connection
                error += " (the connection to Home Assistant is lost)"
            raise StepFailedError(f"{message['type']} failed: {error}")
        return reply["result"]

    def config_entries(self) -> list[dict[str, Any]]:
        """This integration's config entries."""
        entries: list[dict[str, Any]] = self.call_ws(
            {"type": "config_entries/get", "domain": DOMAIN}
        )
        return entries

    def friendly_name(self, entity_id: str) -> str:
        """The entity's name as the UI shows it."""
        name: str = self.page.evaluate(
            "(entityId) => document.querySelector('home-assistant').hass"
            ".states[entityId].attributes.friendly_name",
            entity_id,
        )
        return name

    def entity_name(self, entity_id: str) -> str:
        """The entity's name without its device's, as lists under a device show it."""
        return self.friendly_name(entity_id).removeprefix(self.device_name()).strip()

    def open_settings(self, entry: str) -> None:
        """Sidebar: Settings, then one of the Settings page's entries."""
        self.page.locator("ha-sidebar").get_by_text("Settings", exact=True).click()
        self.page.locator("ha-config-navigation").get_by_text(entry, exact=True).click()

    # --- steps ------------------------------------------------------------

    def login(self) -> None:
        """Open the UI, logged in with the owner's tokens."""
        with self.step("overview", "open Home Assistant, logged in as the owner"):
            self.page.goto(self.options.url + "/")
            self.wait_for_frontend()
            sidebar = self.page.locator("ha-sidebar")
            sidebar.get_by_text("Settings", exact=True).wait_for()

    def open_add_integration(self) -> None:
        """Settings > Devices & services > Add integration > search for DLMS."""
        with self.step("devices-and-services", "Settings > Devices & services"):
            self.open_settings("Devices & services")
            self.page.wait_for_url("**/config/integrations/**")
            self.page.get_by_role("button", name="Add integration").wait_for()
        with self.step("add-integration", "Add integration, search for DLMS"):
            self.page.get_by_role("button", name="Add integration").click()
            dialog = self.page.locator("dialog-add-integration")
            dialog.get_by_placeholder("Search").fill("DLMS")
            dialog.get_by_text(INTEGRATION_TITLE, exact=True).wait_for()

    def fill_form(self, port: str, key: str) -> Locator:
        """Choose the integration, fill in port and key; return the flow dialog."""
        self.page.locator("dialog-add-integration").get_by_text(
            INTEGRATION_TITLE, exact=True
        ).click()
        flow = self.page.locator("dialog-data-entry-flow")
        labels = _translations()["config"]["step"]["user"]["data"]
        # The serial port picker lists detected ports; a pty is not among
        # them, so it goes into the field for typed ports, like a socket://
        # URL. The interface stays at its default, the automatic search.
        flow.get_by_role("textbox", name=labels["url"]).fill(port)
        key_field = flow.get_by_role("textbox", name=labels["encryption_key"])
        # Set at once but for its last character: typed key by key,
        # characters went to the page's keyboard shortcuts (the command
        # palette) whenever the form drew itself anew meanwhile. The one
        # typed character moves the password field's label up, which a value
        # set at once does not.
        key_field.fill(key[:-1])
        key_field.press_sequentially(key[-1])
        expect(key_field.input_value() == key, "the key field lost characters")
        return flow

    def add_meter(self) -> None:
        """The add flow with the meter's port and key creates entry and device."""
        self.open_add_integration()
        with self.step("form", "the integration's form, filled in"):
            flow = self.fill_form(self.options.meter_port, self.options.meter_key)
        with self.step("created", "submit: success dialog with the meter's device"):
            flow.get_by_role("button", name="Submit").click()
            success = flow.locator("step-flow-create-entry")
            success.wait_for()
            entries = self.config_entries()
            expect(len(entries) == 1, f"expected one config entry, got {entries}")
            expect(entries[0]["state"] == "loaded", f"not loaded: {entries[0]}")
            devices = [
                device
                for device in self.call_ws({"type": "config/device_registry/list"})
                if entries[0]["entry_id"] in device["config_entries"]
            ]
            expect(len(devices) == 1, f"expected one device, got {devices}")
            self.device = devices[0]
            # The dialog shows the device's model and offers to rename it.
            success.get_by_text(self.device["model"], exact=True).first.wait_for()
            name_field = success.get_by_role("textbox", name="Device name")
            shown_name = name_field.input_value()
            expect(
                shown_name == self.device_name(),
                f"the dialog names the device {shown_name!r}, "
                f"the registry {self.device_name()!r}",
            )
            self.screenshot("dialog")
            flow.get_by_role("button", name=re.compile("finish", re.IGNORECASE)).click()
            # With one new device, the UI goes on to that device's page.
            self.page.wait_for_url(f"**/config/devices/device/{self.device['id']}")

    def device_name(self) -> str:
        """The meter's device name as the UI shows it."""
        name: str = self.device["name_by_user"] or self.device["name"]
        return name

    def check_device_page(self) -> None:
        """The device page shows the meter's energy and power, with units."""
        with self.step("device", "device page: energy and power of the meter"):
            self.sensors = {
                entity["translation_key"]: entity
                for entity in self.call_ws({"type": "config/entity_registry/list"})
                if entity["platform"] == DOMAIN
                and entity["device_id"] == self.device["id"]
            }
            missing = sorted(set(CHECKED_SENSORS) - set(self.sensors))
            expect(not missing, f"no sensors {missing}; found {sorted(self.sensors)}")
            deadline = time.monotonic() + VALUE_TIMEOUT
            for key, terms in CHECKED_SENSORS.items():
                self.check_shown_value(self.sensors[key]["entity_id"], terms, deadline)

    def check_shown_value(
        self, entity_id: str, terms: tuple[tuple[str, int], ...], deadline: float
    ) -> None:
        """The sensor's row on the device page shows a value the meter sent."""
        rows = self.page.locator("hui-generic-entity-row")
        rows.first.wait_for()
        index: int = rows.evaluate_all(
            "(rows, entityId) => rows.findIndex("
            "(row) => row.config && row.config.entity === entityId)",
            entity_id,
        )
        expect(index >= 0, f"the device page has no row of {entity_id}")
        row = rows.nth(index)
        name = self.entity_name(entity_id)
        row.get_by_text(name, exact=True).wait_for()
        while True:
            text = " ".join(row.inner_text().split())  # the state, with its unit
            sent = sent_values(self.options.readings, terms)
            try:
                shown: ShownValue | None = ShownValue.parse(text)
            except StepFailedError:
                shown = None  # no value yet ("Unknown")
            if shown is not None and any(shown.matches(*value) for value in sent):
                self.log(f"{name}: shows {text!r}, a value the meter sent")
                return
            if time.monotonic() > deadline:
                raise StepFailedError(
                    f"{name} shows {text!r}; the meter's last values were {sent[-3:]}"
                )
            time.sleep(1)

    def configure_energy(self) -> None:
        """Settings > Dashboards > Energy: the meter as grid import and export."""
        with self.step("energy", "Settings > Dashboards > Energy"):
            self.open_settings("Dashboards")
            self.page.locator("ha-data-table").get_by_text("Energy", exact=True).click()
            self.page.get_by_role("button", name="Add grid connection").wait_for()
        with self.step("energy-grid", "grid connection: the meter's import, export"):
            self.page.get_by_role("button", name="Add grid connection").click()
            dialog = self.page.locator("dialog-energy-grid-settings")
            pickers = dialog.locator("ha-statistic-picker")
            for index, key in enumerate(("energy_import", "energy_export")):
                entity_id = self.sensors[key]["entity_id"]
                picker = pickers.nth(index)
                picker.click()
                search = picker.get_by_placeholder("Search")
                search.fill(self.friendly_name(entity_id))
                # Each choice shows the entity's name above its device's.
                choice = picker.locator("ha-combo-box-item").filter(
                    has=self.page.get_by_text(self.entity_name(entity_id), exact=True)
                )
                choice.filter(has_text=self.device_name()).first.click()
                search.wait_for(state="hidden")  # the list closed: value taken
            self.screenshot("filled")
            dialog.get_by_role("button", name="Save").click()
            dialog.wait_for(state="hidden")
            preferences = self.call_ws({"type": "energy/get_prefs"})
            grids = [s for s in preferences["energy_sources"] if s["type"] == "grid"]
            expect(len(grids) == 1, f"expected one grid source: {preferences}")
            expected = {
                "stat_energy_from": self.sensors["energy_import"]["entity_id"],
                "stat_energy_to": self.sensors["energy_export"]["entity_id"],
            }
            for field, entity_id in expected.items():
                expect(grids[0][field] == entity_id, f"{field} is {grids[0][field]}")

    def check_energy_validation(self) -> None:
        """The Energy settings show no validation issue for the meter.

        The recorder creates a sensor's statistics with its first five-minute
        compilation (at :00:10, :05:10, ...); until then the settings show
        "statistics not defined" for a new sensor. Other issues fail at once.
        """
        with self.step("energy-validation", "Energy settings: no validation issues"):
            deadline = time.monotonic() + STATISTICS_TIMEOUT
            announced = False
            while True:
                validation = self.call_ws({"type": "energy/validate"})
                issues = [
                    issue for source in validation["energy_sources"] for issue in source
                ]
                pending = [i for i in issues if i["type"] == "statistics_not_defined"]
                expect(pending == issues, f"energy validation: {issues}")
                if not issues:
                    break
                expect(time.monotonic() < deadline, f"still after 6 min: {issues}")
                if not announced:
                    self.log("waiting for the recorder's first statistics of the meter")
                    announced = True
                time.sleep(5)
            # The page that lists the sources with their validation results.
            self.page.goto(self.options.url + "/config/energy/electricity")
            self.wait_for_frontend()
            grid = self.page.locator("ha-energy-grid-settings")
            import_name = self.friendly_name(self.sensors["energy_import"]["entity_id"])
            grid.get_by_text(import_name).first.wait_for()
            alerts = grid.locator("ha-alert")
            expect(alerts.count() == 0, f"the page shows {alerts.all_inner_texts()}")

    def try_wrong_key(self) -> None:
        """The add flow with a wrong key shows the translated error, adds nothing."""
        self.open_add_integration()
        with self.step(
            "wrong-key", "a wrong key: the form shows the invalid-key error"
        ):
            # The first meter's key does not decrypt the other meter's frames.
            flow = self.fill_form(self.options.other_meter_port, self.options.meter_key)
            flow.get_by_role("button", name="Submit").click()
            message = _translations()["config"]["error"]["invalid_key"]
            flow.locator("ha-alert").filter(has_text=message).wait_for()
            entries = self.config_entries()
            expect(len(entries) == 1, f"a wrong key changed the entries: {entries}")
            self.screenshot("error")
            self.page.keyboard.press("Escape")
            flow.wait_for(state="hidden")

    def check_home_assistant_log(self) -> None:
        """No errors of the integration, and no key in Home Assistant's log."""
        with self.step(
            "log",
            "Home Assistant's log: no integration errors or keys",
            screenshot=False,
        ):
            log = self.options.ha_log.read_text(encoding="utf-8", errors="replace")
            for key in (self.options.meter_key, self.options.other_meter_key):
                expect(key.lower() not in log.lower(), "a key appears in the log")
            errors = [
                line
                for line in log.splitlines()
                if " ERROR " in line and DOMAIN in line
            ]
            expect(not errors, "the integration logged errors:\n" + "\n".join(errors))


def _console_writer(log: TextIO) -> Callable[[ConsoleMessage], None]:
    """A handler that appends the browser's console messages to ``log``."""

    def write(entry: ConsoleMessage) -> None:
        log.write(f"{entry.type}: {entry.text}\n")

    return write


def run(options: Options) -> int:
    """Onboarding, then the browser steps; 0 when every step passed."""
    started = time.monotonic()
    test: BrowserTest | None = None
    try:
        waited = wait_for_home_assistant(options.url, options.hass_pid)
        print(f"[browser] Home Assistant answered after {waited:.0f} s", flush=True)
        try:
            tokens = onboard(options.url)
            confirm_http_settings(options.url, tokens.access_token)
        except (OSError, aiohttp.ClientError) as error:
            raise StepFailedError(f"onboarding through the API: {error}") from error
        print("[browser] onboarding done through the API", flush=True)
        hass_tokens = {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "token_type": "Bearer",
            "expires_in": tokens.expires_in,
            "expires": int(time.time() * 1000) + tokens.expires_in * 1000,
            "hassUrl": options.url,
            "clientId": f"{options.url}/",
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=list(CHROMIUM_ARGS)
            )
            try:
                context = browser.new_context(viewport=VIEWPORT, locale="en-US")
                context.set_default_timeout(UI_TIMEOUT_MS)
                # What the login page would store: the UI starts logged in.
                context.add_init_script(
                    "window.localStorage.setItem('hassTokens', "
                    f"{json.dumps(json.dumps(hass_tokens))});"
                )
                page = context.new_page()
                console = options.artifacts / "browser-console.log"
                with console.open("w", encoding="utf-8") as console_log:
                    page.on("console", _console_writer(console_log))
                    test = BrowserTest(options, page)
                    test.login()
                    test.add_meter()
                    test.check_device_page()
                    test.configure_energy()
                    test.try_wrong_key()
                    test.check_energy_validation()
                    test.check_home_assistant_log()
            finally:
                browser.close()
    except (StepFailedError, PlaywrightError) as error:
        # Outside a step, a Playwright error is about the browser itself
        # (it did not start, or it crashed): its first line says what.
        reason = str(error).strip()
        if isinstance(error, PlaywrightError) and reason:
            reason = reason.splitlines()[0]
        print(f"[browser] FAILED: {reason}", file=sys.stderr, flush=True)
        passed = test.passed if test is not None else 0
        print(f"e2e: {passed} passed, 1 failed", flush=True)
        return 1
    elapsed = time.monotonic() - started
    print(f"[browser] all steps passed in {elapsed:.0f} s", flush=True)
    print(f"e2e: {test.passed} passed, 0 failed", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the subcommand."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="onboarding and the browser steps")
    run_parser.add_argument("--url", required=True)
    run_parser.add_argument("--artifacts", required=True, type=Path)
    run_parser.add_argument("--meter-port", required=True)
    run_parser.add_argument("--meter-key", required=True)
    run_parser.add_argument("--readings", required=True, type=Path)
    run_parser.add_argument("--other-meter-port", required=True)
    run_parser.add_argument("--other-meter-key", required=True)
    run_parser.add_argument("--ha-log", required=True, type=Path)
    run_parser.add_argument("--hass-pid", required=True, type=int)
    args = parser.parse_args(argv)
    return run(
        Options(
            url=args.url,
            artifacts=args.artifacts,
            meter_port=args.meter_port,
            meter_key=args.meter_key,
            readings=args.readings,
            other_meter_port=args.other_meter_port,
            other_meter_key=args.other_meter_key,
            ha_log=args.ha_log,
            hass_pid=args.hass_pid,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
