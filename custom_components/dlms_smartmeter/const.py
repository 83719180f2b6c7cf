"""Constants of the DLMS Smart Meter integration."""

from __future__ import annotations

from dataclasses import dataclass
import logging
from typing import Final

from .dlms import Layout

DOMAIN: Final = "dlms_smartmeter"
AUSTRIA: Final = "AT"
"""Country of the interface choices the integration began with."""
LOGGER = logging.getLogger(__package__)

# Home Assistant's own key for a port, spelt out so that the link reads entry
# data without importing Home Assistant.
CONF_PORT: Final = "port"
CONF_ENCRYPTION_KEY: Final = "encryption_key"
CONF_AUTHENTICATION_KEY: Final = "authentication_key"
CONF_BAUDRATE: Final = "baudrate"
CONF_PARITY: Final = "parity"
CONF_INTERFACE: Final = "interface"
CONF_UPDATE_INTERVAL: Final = "update_interval"

DEFAULT_UPDATE_INTERVAL: Final = 5
MAX_UPDATE_INTERVAL: Final = 3600

PARITY_NONE: Final = "N"
PARITY_EVEN: Final = "E"
PARITY_ODD: Final = "O"
PARITIES: Final = (PARITY_NONE, PARITY_EVEN, PARITY_ODD)
PARITY_CHOICES: Final[dict[str, str]] = {
    # Form choice (translation keys are lower case) -> stored parity.
    "none": PARITY_NONE,
    "even": PARITY_EVEN,
    "odd": PARITY_ODD,
}


@dataclass(frozen=True, slots=True)
class Interface:
    """How the meters behind one choice of the setup form send their frames."""

    baudrate: int
    parity: str
    authentication_key_issued: bool = False
    """The operator hands out an authentication key with the encryption key."""
    layouts: frozenset[str] = frozenset()
    """Payload layouts of the meters behind this choice (tells apart choices
    with the same line settings when the line settings were searched)."""
    search_interval: float | None = None
    """Seconds between the search requests of a meter that only sends data
    while the reader acknowledges it (AMIS); ``None`` for push meters."""
    encrypted: bool = True
    """The meters behind this choice encrypt their pushes (no key is issued
    where they do not)."""
    country: str = AUSTRIA
    """ISO 3166 code of the country whose customer interface this is."""


# The framing (HDLC, M-Bus or a bare APDU) is not part of an interface: the
# decoder recognises each one by its start bytes and checksum, so a meter
# that sends another framing than its operator's usual one still decodes.
INTERFACE_WIENER_NETZE: Final = "wiener_netze_optical"
INTERFACE_NETZ_NOE: Final = "netz_noe_mbus"
INTERFACE_TINETZ_SALZBURG_VORARLBERG: Final = "tinetz_salzburg_vorarlberg_mbus"
INTERFACE_KAERNTEN_WELS: Final = "kaernten_wels_p1"
INTERFACE_BURGENLAND: Final = "netz_burgenland_optical"
INTERFACE_STEIERMARK_E450: Final = "steiermark_e450_mbus"
INTERFACE_STEIERMARK_T210: Final = "steiermark_t210_p1"
INTERFACE_NETZ_OOE_AMIS: Final = "netz_ooe_amis_optical"
INTERFACE_NORWAY_AIDON_KAIFA: Final = "norway_han_aidon_kaifa_mbus"
INTERFACE_NORWAY_KAMSTRUP: Final = "norway_han_kamstrup_mbus"
INTERFACE_DENMARK_KAMSTRUP: Final = "denmark_kamstrup_han"
INTERFACE_SWITZERLAND_LG_MBUS: Final = "switzerland_lg_e450_e570_mbus"
INTERFACE_SWITZERLAND_LG_E360: Final = "switzerland_lg_e360_p1"
INTERFACE_SWITZERLAND_AM550: Final = "switzerland_iskraemeco_am550_p1"
INTERFACE_LUXEMBOURG_SMARTY: Final = "luxembourg_smarty_p1"
INTERFACE_CUSTOM: Final = "custom"
INTERFACE_AUTO: Final = "auto"
"""Not stored: the setup searches the line settings and stores what it found."""
DEFAULT_INTERFACE: Final = INTERFACE_AUTO

SEARCH_MARGIN: Final = 10.0
"""Seconds added to a meter's search interval (AMIS: one minute) to wait for it."""

INTERFACES: Final[dict[str, Interface]] = {
    # Optical IR head: Iskraemeco AM550, Landis+Gyr E450, Siemens IM350.
    INTERFACE_WIENER_NETZE: Interface(
        9600,
        PARITY_NONE,
        layouts=frozenset({Layout.WIENER_NETZE, Layout.WIENER_NETZE_IM350}),
    ),
    # Wired M-Bus (RJ12): Kaifa MA309, Sagemcom T210-D. Sources disagree on
    # the parity; 8E1 is the M-Bus standard, the custom choice covers 8N1.
    INTERFACE_NETZ_NOE: Interface(
        2400, PARITY_EVEN, layouts=frozenset({Layout.OBIS_FLAT_TRIPLES})
    ),
    # Wired M-Bus (RJ12) of the Kaifa MA309 in Tyrol, Salzburg and Vorarlberg.
    INTERFACE_TINETZ_SALZBURG_VORARLBERG: Interface(
        2400, PARITY_EVEN, layouts=frozenset({Layout.OBIS_TRIPLES})
    ),
    # RJ12 "P1" socket: Iskraemeco AM550, Siemens IM350.
    INTERFACE_KAERNTEN_WELS: Interface(
        115200, PARITY_NONE, layouts=frozenset({Layout.P1_POSITIONAL})
    ),
    # Optical IR head on the Landis+Gyr E450 (authenticated frames).
    INTERFACE_BURGENLAND: Interface(
        9600,
        PARITY_NONE,
        authentication_key_issued=True,
        layouts=frozenset({Layout.BURGENLAND}),
    ),
    # Wired M-Bus (RJ12) of the Landis+Gyr E450, also in Kärnten.
    INTERFACE_STEIERMARK_E450: Interface(
        2400,
        PARITY_EVEN,
        authentication_key_issued=True,
        layouts=frozenset({Layout.OBIS_PAIRS, Layout.SELF_DESCRIBING}),
    ),
    # RJ12 "P1" socket of the Sagemcom T210-D-R.
    INTERFACE_STEIERMARK_T210: Interface(
        115200,
        PARITY_NONE,
        authentication_key_issued=True,
        layouts=frozenset({Layout.DSMR_TEXT}),
    ),
    # Optical IR head (read/write) on the Siemens AMIS TD-3511/TD-3512: wired
    # M-Bus; a search request every minute, then data every second while
    # every telegram is acknowledged.
    INTERFACE_NETZ_OOE_AMIS: Interface(9600, PARITY_EVEN, search_interval=60.0),
    # Beyond Austria: the line settings as public readers of these interfaces
    # state them (sources in tests/data/international.md); Automatic tries
    # all of them.
    # Norwegian HAN port (RJ45, M-Bus), lists without encryption.
    INTERFACE_NORWAY_AIDON_KAIFA: Interface(
        2400,
        PARITY_EVEN,
        layouts=frozenset({Layout.OBIS_TRIPLES, Layout.KAIFA_NVE}),
        encrypted=False,
        country="NO",
    ),
    INTERFACE_NORWAY_KAMSTRUP: Interface(
        2400,
        PARITY_NONE,
        layouts=frozenset({Layout.OBIS_PAIRS}),
        encrypted=False,
        country="NO",
    ),
    # Kamstrup Omnipower HAN in Denmark: encrypted and authenticated.
    INTERFACE_DENMARK_KAMSTRUP: Interface(
        2400,
        PARITY_NONE,
        authentication_key_issued=True,
        layouts=frozenset({Layout.OBIS_PAIRS}),
        country="DK",
    ),
    # Swiss customer interfaces; encryption is the operator's choice, and
    # most push in the clear.
    INTERFACE_SWITZERLAND_LG_MBUS: Interface(
        2400,
        PARITY_EVEN,
        layouts=frozenset({Layout.SELF_DESCRIBING}),
        encrypted=False,
        country="CH",
    ),
    INTERFACE_SWITZERLAND_LG_E360: Interface(
        9600,
        PARITY_NONE,
        layouts=frozenset({Layout.SELF_DESCRIBING}),
        encrypted=False,
        country="CH",
    ),
    INTERFACE_SWITZERLAND_AM550: Interface(
        115200,
        PARITY_NONE,
        layouts=frozenset({Layout.SELF_DESCRIBING}),
        encrypted=False,
        country="CH",
    ),
    # Luxembourg's Smarty P1 port (Sagemcom T210-D): DSMR text, encrypted
    # and authenticated.
    INTERFACE_LUXEMBOURG_SMARTY: Interface(
        115200,
        PARITY_NONE,
        authentication_key_issued=True,
        layouts=frozenset({Layout.DSMR_TEXT}),
        country="LU",
    ),
}
"""The setup form's interface choices, named by grid operator and meter."""

DEFAULT_BAUDRATE: Final = INTERFACES[INTERFACE_WIENER_NETZE].baudrate
DEFAULT_PARITY: Final = INTERFACES[INTERFACE_WIENER_NETZE].parity


def interface_for(baudrate: int, parity: str, *, authentication_key: bool) -> str:
    """The interface choice for an entry stored before entries kept theirs.

    Those entries come from releases that offered Austrian choices only. Line
    settings alone leave several choices; whether the entry has an
    authentication key tells them apart. Without a match: the custom choice.
    """
    for name, interface in INTERFACES.items():
        if interface.country != AUSTRIA:
            continue
        if (interface.baudrate, interface.parity) == (baudrate, parity) and (
            interface.authentication_key_issued == authentication_key
        ):
            return name
    return INTERFACE_CUSTOM


def interface_found(
    baudrate: int, parity: str, *, layout: str, encrypted: bool, authenticated: bool
) -> str:
    """The interface choice that fits line settings found by the search.

    Among the choices with these line settings, the one whose meters send
    this payload layout wins, then the one whose meters encrypt (or not)
    like this one, then the one whose frames carry (or lack) an
    authentication tag like these. A choice of another country than Austria
    is only taken for its own layouts. Without a fitting choice: the custom
    one, which keeps the line settings.
    """
    fitting = [
        (name, interface)
        for name, interface in INTERFACES.items()
        if (interface.baudrate, interface.parity) == (baudrate, parity)
        and (interface.country == AUSTRIA or layout in interface.layouts)
    ]
    if not fitting:
        return INTERFACE_CUSTOM

    def score(item: tuple[str, Interface]) -> tuple[bool, bool, bool]:
        interface = item[1]
        return (
            layout in interface.layouts,
            interface.encrypted == encrypted,
            interface.authentication_key_issued == authenticated,
        )

    return max(fitting, key=score)[0]


@dataclass(frozen=True, slots=True)
class LineCandidate:
    """One line setting the automatic choice listens with."""

    baudrate: int
    parity: str
    listen_time: float | None = None
    """Seconds to wait on a silent line; ``None``: the flow's usual wait."""

    def __str__(self) -> str:
        """The setting as people write it, e.g. ``9600 8N1``."""
        return f"{self.baudrate} 8{self.parity}1"


AMIS_LISTEN_TIME: Final = 70.0
"""An AMIS meter sends its search request only once a minute."""

AUTO_CANDIDATES: Final = (
    LineCandidate(9600, PARITY_NONE),  # optical IR head
    LineCandidate(2400, PARITY_EVEN),  # wired M-Bus
    LineCandidate(115200, PARITY_NONE),  # P1
    LineCandidate(2400, PARITY_NONE),  # M-Bus meters documented as 8N1
    # Netz OÖ AMIS (optical, M-Bus inside): silent until its search request
    # is answered, so it needs the longest wait and comes last.
    LineCandidate(9600, PARITY_EVEN, AMIS_LISTEN_TIME),
)
"""Line settings the automatic choice tries, most likely first."""
