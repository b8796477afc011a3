"""Sliders for the lectures: a figure redrawn as an image whenever a control moves.

``slider_figure(make_figure, **controls)`` shows the controls (ipywidgets sliders) above a PNG
image of ``make_figure(**values)``, redrawn on every change. It uses an image widget rather than
``ipywidgets.interact``: ``interact`` captures its plot in an Output widget, and headless notebook
runners that emulate Output widgets (nbclient, hence nbconvert and Jupyter Book) can stall on
it; an image widget needs no emulation, so the lectures execute the same way everywhere. A
static rendering (the course site) shows no widget at all: each slider in the lectures has a
static figure next to it.

ipywidgets is imported only when a slider is made (it comes with the ``course`` extra).
"""
from __future__ import annotations

import io
from typing import Any, Callable

__all__ = ["slider_figure"]


def slider_figure(make_figure: Callable[..., Any], **controls: Any):
    """Controls above an image of ``make_figure(**values)``, redrawn when a control moves.

    Parameters
    ----------
    make_figure : callable
        Called with one keyword argument per control (its current value); returns a matplotlib
        ``Figure``, which is rendered to PNG and closed.
    **controls : ipywidgets.ValueWidget
        The sliders (or any widget with a ``value``), by the keyword they are passed as.

    Returns
    -------
    ipywidgets.VBox
        The controls and the image; display it (or leave it last in a cell).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    if not controls:
        raise ValueError("slider_figure needs at least one control, e.g. bits=IntSlider(...)")
    image = widgets.Image(format="png")

    def redraw(_change=None) -> None:
        fig = make_figure(**{name: c.value for name, c in controls.items()})
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        plt.close(fig)                        # not shown a second time by the inline backend
        image.value = buf.getvalue()

    for c in controls.values():
        c.observe(redraw, names="value")
    redraw()
    return widgets.VBox([*controls.values(), image])
