"""The dashboard's chart of record views per day, drawn by the server as SVG (no script, no CDN).

Every value can be read without pointing: the tallest bar carries its number, the axis names its days,
and a sentence and a table beside the chart give the figures (a phone has no hover).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# The drawing's coordinates (the SVG's viewBox is WIDTH × HEIGHT; it scales to the page's width).
WIDTH, HEIGHT = 400, 136
LEFT, STEP, BAR = 28, 12, 9  # where the first bar starts, one day's width, a bar's width
TOP, BASE = 18, 100  # the tallest bar's top and every bar's foot
LABELLED = (0, 15, -1)  # the days the axis names: first, middle, today (room for Hindi months on a phone)


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: int
    y: float
    height: float
    labelled: bool
    anchor: str  # how the day's label sits under its bar (SVG text-anchor)

    @property
    def middle(self) -> float:
        return self.x + BAR / 2

    @property
    def label_x(self) -> float:
        """Where the day's label is anchored: the bar's left edge, middle or right edge."""
        return {"start": self.x, "end": self.x + BAR}.get(self.anchor, self.middle)


@dataclass(frozen=True)
class Chart:
    days: list[tuple[date, int]]  # oldest first

    @property
    def most(self) -> int:
        return max((n for _d, n in self.days), default=0)

    @property
    def total(self) -> int:
        return sum(n for _d, n in self.days)

    @property
    def busiest(self) -> tuple[date, int] | None:
        """The latest of the days with the most views (None when there were none)."""
        if not self.most:
            return None
        return next((d, n) for d, n in reversed(self.days) if n == self.most)

    @property
    def bars(self) -> list[Bar]:
        top, last = self.most or 1, len(self.days) - 1
        named = {i % len(self.days) for i in LABELLED} if self.days else set()
        bars = []
        for i, (day, n) in enumerate(self.days):
            height = round((BASE - TOP) * n / top, 1)
            anchor = "start" if i == 0 else "end" if i == last else "middle"
            bars.append(Bar(day, n, LEFT + i * STEP, round(BASE - height, 1), height, i in named, anchor))
        return bars

    @property
    def peak(self) -> Bar | None:
        """The bar that carries its number: the busiest day's."""
        busiest = self.busiest
        return next((b for b in self.bars if b.day == busiest[0]), None) if busiest else None

    @property
    def geometry(self) -> dict:
        """The drawing's fixed coordinates, for the template (the axis, the days' labels, the scale)."""
        return {
            "width": WIDTH,
            "height": HEIGHT,
            "left": LEFT,
            "top": TOP,
            "base": BASE,
            "bar": BAR,
            "scale_x": LEFT - 4,
            "tick_end": BASE + 4,
            "day_y": BASE + 18,
        }
