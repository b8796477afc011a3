"""quantref.interactive.slider_figure: the lectures' sliders redraw an image widget."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

widgets = pytest.importorskip("ipywidgets")

from quantref.interactive import slider_figure  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _figure(bits, label):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot(range(2 ** bits))
    ax.set_title(label)
    return fig


def test_draws_on_creation_and_on_every_change():
    calls = []

    def make(bits, label):
        calls.append((bits, label))
        return _figure(bits, label)

    bits = widgets.IntSlider(value=2, min=1, max=8)
    label = widgets.Dropdown(options=["a", "b"], value="a")
    box = slider_figure(make, bits=bits, label=label)
    image = box.children[-1]
    assert list(box.children[:-1]) == [bits, label]
    assert calls == [(2, "a")] and bytes(image.value).startswith(PNG)
    first = bytes(image.value)
    bits.value = 6
    label.value = "b"
    assert calls == [(2, "a"), (6, "a"), (6, "b")]
    assert bytes(image.value).startswith(PNG) and bytes(image.value) != first


def test_closes_its_figures():
    before = len(plt.get_fignums())
    s = widgets.IntSlider(value=1, min=1, max=4)
    slider_figure(lambda bits: _figure(bits, "x"), bits=s)
    s.value = 3
    assert len(plt.get_fignums()) == before


def test_needs_a_control():
    with pytest.raises(ValueError, match="at least one control"):
        slider_figure(lambda: _figure(1, "x"))
