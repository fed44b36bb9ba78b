"""Contact sheets: every channel of a result as a labelled tile, in one RGB image.

A filter bank turns one image into many channels (the Keras lecture's 48×48×4); a PNG cannot show
them and a .npy cannot be looked at. :func:`contact_sheet` lays the channels out side by side, each
coloured on its own scale or on one shared by every tile (:data:`SCALES`), greys for values without
a negative and a diverging map with zero white for signed ones (:func:`convcli.drawing.value_colours`),
each labelled under the tile with its name and value range; the input can be the first tiles.
:func:`bank_labels` names the channels of filter banks the way convcli orders them (channel c·K + k
is kernel k on input channel c). A chain of CNN layers gives maps of different sizes at each conv
layer: :func:`layer_sheet` shows each layer's maps as a block of its own, under a heading, the
blocks one above the other; :func:`pipeline_sheet` chooses between the two for a chain.

The scales fold in the five of earlier versions: ``normalize`` (each tile's min..max) is ``each`` and
``global`` (one min..max) is ``shared``; ``clip``, ``abs`` and ``offset`` (values as 0..255 image
units, their magnitudes, values + 128) are gone: no command offered them, and the diverging map now
shows the sign that ``abs`` hid and ``offset`` shifted to mid-grey, with zero white.

Modules: :mod:`~convcli.sheet.contact` (tiles, scales, layout), :mod:`~convcli.sheet.labels` (label
texts, fonts, wrapping), :mod:`~convcli.sheet.layers` (layer and pipeline sheets). Only numpy and
Pillow (its default font, so no font file is needed) are used; nothing is printed or written.
"""

from __future__ import annotations

from ..vocabulary import SHEET_SCALES as SCALES
from .contact import FRAME, contact_sheet, sheet_font, tile_zoom
from .labels import bank_labels, input_labels, label_font, range_text
from .layers import layer_sheet, pipeline_sheet

__all__ = ["FRAME", "SCALES", "bank_labels", "contact_sheet", "input_labels", "label_font", "layer_sheet",
           "pipeline_sheet", "range_text", "sheet_font", "tile_zoom"]
