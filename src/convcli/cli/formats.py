"""The image formats as the command line names them: the CLI's one table of extensions and aliases.

The ``--format`` choices, the extensions a folder INPUT contributes and the extension ``{ext}``
stands for under ``--format`` are all derived from :data:`EXTENSIONS` and :data:`FORMAT_ALIASES`.
"""

from __future__ import annotations

# The core's format table (convcli.images.formats: no NumPy) gives each format's output extension
# (what ``{ext}`` stands for with ``--format``), the other names formats go by, and the extensions
# a folder INPUT contributes.
from ..images.formats import EXTENSIONS, FORMAT_ALIASES, FORMAT_TABLE, IMAGE_EXTENSIONS

__all__ = ["EXTENSIONS", "FORMAT_ALIASES", "FORMAT_CHOICES", "IMAGE_EXTENSIONS", "STACKABLE", "canonical_format"]

#: Formats that can hold any number of channels: where stacked kernel outputs must go.
STACKABLE = tuple(name for name, spec in FORMAT_TABLE.items() if spec.channels is None)


def _names(fmt: str) -> tuple[str, ...]:
    """A format's name, then its aliases."""
    return (fmt, *(alias for alias, aliased in FORMAT_ALIASES.items() if aliased == fmt))


#: What ``--format`` takes: every format, each followed by its aliases.
FORMAT_CHOICES = tuple(name for fmt in EXTENSIONS for name in _names(fmt))

def canonical_format(name: str) -> str:
    """The format a ``--format`` choice names.

    Examples
    --------
    >>> canonical_format("jpg"), canonical_format("png")
    ('jpeg', 'png')
    >>> FORMAT_CHOICES
    ('png', 'jpeg', 'jpg', 'tiff', 'tif', 'bmp', 'gif', 'webp', 'npy', 'zarr', 'csv', 'txt')
    >>> IMAGE_EXTENSIONS
    ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.gif', '.webp', '.npy')
    """
    return FORMAT_ALIASES.get(name, name)
