"""The image formats as the command line names them: the CLI's one table of extensions and aliases.

The ``--format`` choices, the extensions a folder INPUT contributes and the extension ``{ext}``
stands for under ``--format`` are all derived from :data:`EXTENSIONS` and :data:`FORMAT_ALIASES`.
"""

from __future__ import annotations

# TODO(issue 12): derive from convcli.images.formats
#: Each format's output extension (what ``{ext}`` stands for with ``--format``).
EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "bmp": ".bmp", "gif": ".gif", "webp": ".webp", "npy": ".npy"}
#: Other names of formats, as ``--format`` and file extensions spell them.
FORMAT_ALIASES = {"jpg": "jpeg", "tif": "tiff"}
#: Formats that can hold any number of channels: where stacked kernel outputs must go.
STACKABLE = ("npy", "tiff")


def _names(fmt: str) -> tuple[str, ...]:
    """A format's name, then its aliases."""
    return (fmt, *(alias for alias, aliased in FORMAT_ALIASES.items() if aliased == fmt))


#: What ``--format`` takes: every format, each followed by its aliases.
FORMAT_CHOICES = tuple(name for fmt in EXTENSIONS for name in _names(fmt))

#: What a folder INPUT contributes: files with these extensions (any case); hidden files and
#: folders (names starting with a dot) are skipped.
IMAGE_EXTENSIONS = tuple(dict.fromkeys(ext for fmt in EXTENSIONS
                                       for ext in (EXTENSIONS[fmt], *("." + name for name in _names(fmt)))))


def canonical_format(name: str) -> str:
    """The format a ``--format`` choice names.

    Examples
    --------
    >>> canonical_format("jpg"), canonical_format("png")
    ('jpeg', 'png')
    >>> FORMAT_CHOICES
    ('png', 'jpeg', 'jpg', 'tiff', 'tif', 'bmp', 'gif', 'webp', 'npy')
    >>> IMAGE_EXTENSIONS
    ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.gif', '.webp', '.npy')
    """
    return FORMAT_ALIASES.get(name, name)
