"""Trained weights and model files people have: arrays from ``.npy``/``.npz``/``.safetensors``
(:mod:`convcli.models.weights`), seeded initialisers for untrained layers, and Keras 3 ``.keras``
files read as a list of layer records (:mod:`convcli.models.keras_file`).

Nothing here runs code from a file: NumPy files are read with ``allow_pickle=False``, HDF5 weights
with h5py from memory, and a ``.keras`` archive is never extracted to disk.
"""
