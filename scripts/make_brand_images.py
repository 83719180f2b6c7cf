"""Draw the integration's brand images (icon and logo) with Pillow.

Home Assistant 2026.3 and later, and HACS, read them from
``custom_components/dlms_smartmeter/brand/``. The icon is a smart meter seen
from the front: housing, LCD with a meter reading, the optical (IR) port with
its signal arcs, the pulse LED and the terminal cover. Everything is drawn
from geometry (the digits are seven-segment shapes), so the icon needs no font;
the logo's lettering uses DejaVu Sans Bold when it is installed and Pillow's
built-in font otherwise.

Run it from the repository root with the project's virtual environment (Home
Assistant already brings Pillow)::

    python scripts/make_brand_images.py

Sizes follow the Home Assistant brand rules: ``icon.png`` 256 x 256 and
``icon@2x.png`` 512 x 512; ``logo.png`` landscape, 256 px high (``logo@2x.png``
512 px); ``dark_logo*.png`` use light lettering for dark themes. The
backgrounds are transparent.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BRAND_DIR = (
    Path(__file__).resolve().parent.parent
    / "custom_components"
    / "dlms_smartmeter"
    / "brand"
)

# Everything is drawn on a 1000 x 1000 design grid, then scaled.
GRID = 1000
# Drawing this many times larger and scaling down gives smooth edges.
SUPERSAMPLE = 4

Color = tuple[int, int, int, int]

OUTLINE: Color = (38, 50, 56, 255)
HOUSING: Color = (245, 247, 248, 255)
HOUSING_SHADE: Color = (224, 230, 233, 255)
TERMINAL_COVER: Color = (200, 210, 215, 255)
DISPLAY: Color = (28, 40, 46, 255)
DIGIT_ON: Color = (79, 195, 247, 255)
DIGIT_OFF: Color = (38, 53, 60, 255)
PORT_RING: Color = (144, 164, 174, 255)
PORT_LENS: Color = (38, 50, 56, 255)
IR_EMITTER: Color = (183, 28, 28, 255)
SIGNAL: Color = (3, 169, 244, 255)
PULSE_LED: Color = (229, 57, 53, 255)
TEXT_LIGHT_THEME: Color = (38, 50, 56, 255)
TEXT_DARK_THEME: Color = (236, 239, 241, 255)
TEXT_ACCENT: Color = (3, 169, 244, 255)

# Segments of a seven-segment digit, in the usual a..g order.
SEGMENTS_OF_DIGIT = {
    "0": "abcdef",
    "1": "bc",
    "2": "abdeg",
    "3": "abcdg",
    "4": "bcfg",
    "5": "acdfg",
    "6": "acdefg",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
}
READING = "1234.5"

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
)


class Pen:
    """Draws on a canvas in design-grid coordinates."""

    def __init__(self, canvas: Image.Image) -> None:
        """Wrap ``canvas``; its width is mapped to the 1000-unit grid."""
        self.scale = canvas.width / GRID
        self.draw = ImageDraw.Draw(canvas)

    def _box(self, box: tuple[float, float, float, float]) -> tuple[int, ...]:
        return tuple(round(v * self.scale) for v in box)

    def _width(self, width: float) -> int:
        return max(1, round(width * self.scale))

    def rounded_box(
        self,
        box: tuple[float, float, float, float],
        radius: float,
        fill: Color,
        outline: Color | None = None,
        width: float = 0,
    ) -> None:
        """Rectangle with round corners."""
        x0, y0, x1, y1 = self._box(box)
        self.draw.rounded_rectangle(
            (x0, y0, x1, y1),
            radius=round(radius * self.scale),
            fill=fill,
            outline=outline,
            width=self._width(width) if outline else 0,
        )

    def circle(
        self,
        centre: tuple[float, float],
        radius: float,
        fill: Color | None,
        outline: Color | None = None,
        width: float = 0,
    ) -> None:
        """Circle around ``centre``."""
        x, y = centre
        x0, y0, x1, y1 = self._box((x - radius, y - radius, x + radius, y + radius))
        self.draw.ellipse(
            (x0, y0, x1, y1),
            fill=fill,
            outline=outline,
            width=self._width(width) if outline else 0,
        )

    def arc(
        self,
        centre: tuple[float, float],
        radius: float,
        degrees: tuple[float, float],
        colour: Color,
        width: float,
    ) -> None:
        """Circular arc; angles in degrees, clockwise from 3 o'clock."""
        x, y = centre
        x0, y0, x1, y1 = self._box((x - radius, y - radius, x + radius, y + radius))
        self.draw.arc(
            (x0, y0, x1, y1),
            start=degrees[0],
            end=degrees[1],
            fill=colour,
            width=self._width(width),
        )

    def polygon(self, points: list[tuple[float, float]], fill: Color) -> None:
        """Filled polygon."""
        self.draw.polygon(
            [(round(x * self.scale), round(y * self.scale)) for x, y in points],
            fill=fill,
        )


def _segment_polygon(
    segment: str, cell: tuple[float, float, float, float], thick: float
) -> list[tuple[float, float]]:
    """Hexagonal bar of one segment of a digit cell (left, top, width, height)."""
    left, top, width, height = cell
    half = thick / 2
    gap = thick * 0.18
    middle = top + height / 2
    right = left + width
    bottom = top + height

    def horizontal(y: float) -> list[tuple[float, float]]:
        x0, x1 = left + gap, right - gap
        return [
            (x0, y),
            (x0 + half, y - half),
            (x1 - half, y - half),
            (x1, y),
            (x1 - half, y + half),
            (x0 + half, y + half),
        ]

    def vertical(x: float, y0: float, y1: float) -> list[tuple[float, float]]:
        y0, y1 = y0 + gap, y1 - gap
        return [
            (x, y0),
            (x + half, y0 + half),
            (x + half, y1 - half),
            (x, y1),
            (x - half, y1 - half),
            (x - half, y0 + half),
        ]

    shapes = {
        "a": horizontal(top),
        "g": horizontal(middle),
        "d": horizontal(bottom),
        "f": vertical(left, top, middle),
        "b": vertical(right, top, middle),
        "e": vertical(left, middle, bottom),
        "c": vertical(right, middle, bottom),
    }
    return shapes[segment]


def _draw_reading(pen: Pen, box: tuple[float, float, float, float]) -> None:
    """Seven-segment meter reading centred in ``box``."""
    digits = READING.replace(".", "")
    x0, y0, x1, y1 = box
    # Cell proportions relative to the digit height; the reading must fit
    # both the height and the width of the display.
    width_ratio, thick_ratio, spacing_ratio = 0.5, 0.13, 2.4
    pitch_ratio = width_ratio + thick_ratio * spacing_ratio
    width_needed = pitch_ratio * (len(digits) - 1) + width_ratio
    cell_height = min((y1 - y0) * 0.62, (x1 - x0) * 0.86 / width_needed)
    cell_width = cell_height * width_ratio
    thick = cell_height * thick_ratio
    pitch = cell_height * pitch_ratio
    total = pitch * (len(digits) - 1) + cell_width
    left = x0 + ((x1 - x0) - total) / 2
    top = y0 + ((y1 - y0) - cell_height) / 2
    decimals_from = READING.index(".")
    for index, digit in enumerate(digits):
        cell_left = left + index * pitch
        lit = SEGMENTS_OF_DIGIT[digit]
        for segment in "abcdefg":
            pen.polygon(
                _segment_polygon(
                    segment, (cell_left, top, cell_width, cell_height), thick
                ),
                DIGIT_ON if segment in lit else DIGIT_OFF,
            )
        if index == decimals_from - 1:
            dot_x = cell_left + cell_width + pitch * 0.5 - cell_width * 0.5
            pen.circle((dot_x, top + cell_height), thick * 0.55, DIGIT_ON)


def draw_icon(size: int) -> Image.Image:
    """The meter icon, ``size`` x ``size`` pixels, transparent background."""
    canvas = Image.new("RGBA", (size * SUPERSAMPLE, size * SUPERSAMPLE), (0, 0, 0, 0))
    pen = Pen(canvas)

    # Housing, with a slightly darker right-hand side for depth.
    pen.rounded_box((150, 30, 850, 970), 95, HOUSING, OUTLINE, 30)
    pen.rounded_box((760, 60, 822, 735), 28, HOUSING_SHADE)

    # Terminal cover with its sealing screw.
    pen.rounded_box((150, 755, 850, 970), 95, TERMINAL_COVER, OUTLINE, 30)
    pen.rounded_box((165, 755, 835, 800), 0, TERMINAL_COVER)
    pen.rounded_box((150, 740, 850, 770), 0, OUTLINE)
    pen.circle((500, 865), 38, HOUSING, OUTLINE, 16)
    pen.rounded_box((474, 858, 526, 872), 4, OUTLINE)

    # LCD with the reading.
    pen.rounded_box((225, 120, 775, 395), 36, DISPLAY, OUTLINE, 14)
    _draw_reading(pen, (245, 130, 755, 385))

    # Pulse LED, top right of the port.
    pen.circle((700, 470), 22, PULSE_LED, OUTLINE, 8)

    # Optical port: metal ring, dark window with emitter and receiver.
    port = (500, 585)
    for radius in (130, 185):
        pen.arc(port, radius, (145, 215), SIGNAL, 30)
        pen.arc(port, radius, (-35, 35), SIGNAL, 30)
    pen.circle(port, 95, PORT_RING, OUTLINE, 16)
    pen.circle(port, 60, PORT_LENS)
    pen.circle((port[0] - 24, port[1]), 15, IR_EMITTER)
    pen.circle((port[0] + 24, port[1]), 15, PORT_RING)

    return canvas.resize((size, size), Image.Resampling.LANCZOS)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size=size)


def draw_logo(height: int, *, dark_theme: bool) -> Image.Image:
    """Icon plus the name on two lines, ``height`` pixels high, trimmed."""
    icon = draw_icon(height)
    name_font = _font(round(height * 0.34))
    tag_font = _font(round(height * 0.2))
    name, tag = "DLMS", "Smart Meter"
    scratch = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    name_box = scratch.textbbox((0, 0), name, font=name_font)
    tag_box = scratch.textbbox((0, 0), tag, font=tag_font)
    text_left = round(height * 0.92)
    width = text_left + math.ceil(max(name_box[2], tag_box[2])) + 1

    logo = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    logo.alpha_composite(icon, (0, 0))
    draw = ImageDraw.Draw(logo)
    text_colour = TEXT_DARK_THEME if dark_theme else TEXT_LIGHT_THEME
    name_top = round(height * 0.5) - name_box[3] - round(height * 0.02)
    draw.text((text_left, name_top), name, font=name_font, fill=text_colour)
    tag_top = round(height * 0.5) + round(height * 0.04) - tag_box[1]
    draw.text((text_left, tag_top), tag, font=tag_font, fill=TEXT_ACCENT)

    # Brand images are trimmed: no empty margin left or right.
    content = logo.getbbox()
    if content is None:
        return logo
    return logo.crop((content[0], 0, content[2], height))


def write_images(directory: Path) -> list[Path]:
    """Write every brand image into ``directory``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    images = {
        "icon.png": draw_icon(256),
        "icon@2x.png": draw_icon(512),
        "logo.png": draw_logo(256, dark_theme=False),
        "logo@2x.png": draw_logo(512, dark_theme=False),
        "dark_logo.png": draw_logo(256, dark_theme=True),
        "dark_logo@2x.png": draw_logo(512, dark_theme=True),
    }
    written = []
    for name, image in images.items():
        path = directory / name
        image.save(path, format="PNG", optimize=True)
        written.append(path)
    return written


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=BRAND_DIR,
        help="directory to write the PNG files into (default: %(default)s)",
    )
    arguments = parser.parse_args()
    for path in write_images(arguments.output):
        with Image.open(path) as image:
            print(f"{path}: {image.width} x {image.height}")


if __name__ == "__main__":
    main()
