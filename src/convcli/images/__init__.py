"""Reading and writing images: the only package that talks to image decoders and encoders.

One module per job:

============  ======================================================================================
formats       the format table (magic bytes, extensions and aliases, labels, what each can hold,
              default dtypes) and what is derived from it: ``sniff_format``, ``format_from_path``,
              ``default_dtype``, ``check_writable``, ``EXTENSIONS``, ``FORMAT_ALIASES``
limits        ``Limits``, the ``DEFAULT_MAX_*`` values, ``working_memory`` and the limit checks
read          sources (paths, ``sample:NAME``, ``shape:HxW``, ``matrix:``, standard input's bytes),
              ``probe``, ``read_image``; the read rules every decoder follows
png_read      the PNG decoder (header and chunks by convcli, pixels by OpenCV or Pillow)
pillow        the JPEG, BMP, GIF and WebP decoder (Pillow)
tiff          the TIFF decoder (tifffile, Pillow for what tifffile cannot decode alone)
npy           the ``.npy`` decoder (NumPy, never pickle)
zarr_io       Zarr folder stores (v2, v3): metadata checked by convcli, chunks read and written by zarr
band_read     ``open_band_reader``: rows of an image band by band (TIFF segments, ``.npy`` mapped, Zarr)
tiff_bands    the rows of a TIFF page from only the strips or tiles they touch
band_write    ``open_band_writer``: ``.npy``, PNG, tiled TIFF and Zarr written band by band, atomically
textmatrix    numbers as text: the ``.txt``/``.csv`` decoder, ``matrix:`` inputs, ``format_matrix``
png           convcli's own PNG encoder
encode        ``encode_image``: an array in its output dtype to the bytes of a file
atomic        ``write_atomic``, ``AtomicFile``/``AtomicFolder`` and their temporaries, ``same_file``,
              ``written_through``
write         ``write_image``: value mapping, encoding and the atomic write, as the CLI does them
info          ``ImageInfo``: what a source holds
============  ======================================================================================

Value mapping (``map_values``, ``SCALES``) is not I/O and lives in :mod:`convcli.values`; it is
re-exported here because writing an image file needs it. Every library is imported lazily
(:mod:`convcli._libraries`), and this package's names are re-exported lazily: importing
:mod:`convcli.images.formats` (the command line's format names) costs no NumPy.

Examples
--------
>>> from convcli import images
>>> image, info = images.read_image("sample:camera")
>>> info.format, images.EXTENSIONS["jpeg"], images.FORMAT_ALIASES["tif"]
('png', '.jpg', 'tiff')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from convcli._lazy import lazy_exports

# public name -> module that defines it
_API = {
    "AtomicFile": "images.atomic",
    "AtomicFolder": "images.atomic",
    "FolderData": "images.atomic",
    "remove_temp_files": "images.atomic",
    "same_file": "images.atomic",
    "sweep_temp_files": "images.atomic",
    "write_atomic": "images.atomic",
    "written_through": "images.atomic",
    "BandReader": "images.band_read",
    "open_band_reader": "images.band_read",
    "STREAMED_FORMATS": "images.formats",
    "BAND_FORMATS": "images.formats",
    "BandWriter": "images.band_write",
    "band_writer_memory": "images.band_write",
    "open_band_writer": "images.band_write",
    "DEFAULT_PNG_COMPRESSION": "images.encode",
    "encode_image": "images.encode",
    "EXTENSIONS": "images.formats",
    "FORMAT_ALIASES": "images.formats",
    "FOLDER_FORMATS": "images.formats",
    "FORMATS": "images.formats",
    "IMAGE_EXTENSIONS": "images.formats",
    "SNIFF_BYTES": "images.formats",
    "check_writable": "images.formats",
    "default_dtype": "images.formats",
    "format_from_path": "images.formats",
    "sniff_folder": "images.formats",
    "sniff_format": "images.formats",
    "ImageInfo": "images.info",
    "DEFAULT_MAX_FILE_SIZE": "images.limits",
    "DEFAULT_MAX_FRAMES": "images.limits",
    "DEFAULT_MAX_MEMORY": "images.limits",
    "DEFAULT_MAX_PIXELS": "images.limits",
    "DEFAULT_MAX_SIDE": "images.limits",
    "MEMORY_FACTOR": "images.limits",
    "Limits": "images.limits",
    "streamed_limits": "images.limits",
    "working_memory": "images.limits",
    "STDIN_LABEL": "images.read",
    "probe": "images.read",
    "read_image": "images.read",
    "sample_names": "images.read",
    "source_stem": "images.read",
    "write_image": "images.write",
    "KINDS": "values",
    "OUTPUT_DTYPES": "values",
    "SCALES": "values",
    "map_values": "values",
}

__all__ = [
    "BAND_FORMATS",
    "DEFAULT_MAX_FILE_SIZE",
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_MAX_MEMORY",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_SIDE",
    "DEFAULT_PNG_COMPRESSION",
    "EXTENSIONS",
    "FOLDER_FORMATS",
    "FORMATS",
    "FORMAT_ALIASES",
    "IMAGE_EXTENSIONS",
    "KINDS",
    "MEMORY_FACTOR",
    "OUTPUT_DTYPES",
    "SCALES",
    "SNIFF_BYTES",
    "STDIN_LABEL",
    "STREAMED_FORMATS",
    "AtomicFile",
    "AtomicFolder",
    "BandReader",
    "BandWriter",
    "FolderData",
    "ImageInfo",
    "Limits",
    "band_writer_memory",
    "check_writable",
    "default_dtype",
    "encode_image",
    "format_from_path",
    "map_values",
    "open_band_reader",
    "open_band_writer",
    "probe",
    "read_image",
    "remove_temp_files",
    "same_file",
    "sample_names",
    "sniff_folder",
    "sniff_format",
    "source_stem",
    "streamed_limits",
    "sweep_temp_files",
    "working_memory",
    "write_atomic",
    "write_image",
    "written_through",
]

if TYPE_CHECKING:  # pragma: no cover
    from convcli.images.atomic import AtomicFile, AtomicFolder, FolderData, remove_temp_files, same_file, sweep_temp_files, write_atomic, written_through
    from convcli.images.band_read import BandReader, open_band_reader
    from convcli.images.band_write import BandWriter, band_writer_memory, open_band_writer
    from convcli.images.encode import DEFAULT_PNG_COMPRESSION, encode_image
    from convcli.images.formats import BAND_FORMATS, STREAMED_FORMATS, EXTENSIONS, FOLDER_FORMATS, FORMAT_ALIASES, FORMATS, IMAGE_EXTENSIONS, SNIFF_BYTES, check_writable, default_dtype, format_from_path, sniff_folder, sniff_format
    from convcli.images.info import ImageInfo
    from convcli.images.limits import DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_FRAMES, DEFAULT_MAX_MEMORY, DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, MEMORY_FACTOR, Limits, streamed_limits, working_memory
    from convcli.images.read import STDIN_LABEL, probe, read_image, sample_names, source_stem
    from convcli.images.write import write_image
    from convcli.values import KINDS, OUTPUT_DTYPES, SCALES, map_values


__getattr__, __dir__ = lazy_exports(globals(), {name: f"convcli.{module}" for name, module in _API.items()})
