"""A training run's live plot for the dock's run panels: two series against the step, each on its own y axis
(their scales differ: a loss and a validation score, or the two pretraining loss terms)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Series = tuple[Sequence[int], Sequence[float]]  # (steps, values)


@dataclass(frozen=True)
class Line:
    """How one series is drawn: its axis label (also its legend) and matplotlib format."""

    label: str
    color: str
    style: str = "-"


class RunPlot:
    """A matplotlib canvas for Qt with ``left`` on the left y axis and ``right`` on the right one."""

    def __init__(self, left: Line, right: Line) -> None:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(3.2, 1.8), dpi=80, layout="constrained")
        self.canvas = FigureCanvasQTAgg(figure)
        self.canvas.setMinimumHeight(140)
        left_axes = figure.add_subplot()
        self.axes = left_axes, left_axes.twinx()
        self.lines = tuple(
            axes.plot([], [], line.style, color=line.color, lw=1, ms=3, label=line.label)[0]
            for axes, line in zip(self.axes, (left, right))
        )
        left_axes.set_xlabel("step", fontsize=8)
        for axes, line in zip(self.axes, (left, right)):
            axes.set_ylabel(line.label, fontsize=8, color=line.color)
            axes.tick_params(labelsize=7)

    def show(self, left: Series, right: Series) -> None:
        for axes, line, (steps, values) in zip(self.axes, self.lines, (left, right)):
            line.set_data(steps, values)
            axes.relim()
            axes.autoscale_view()
        self.canvas.draw_idle()
