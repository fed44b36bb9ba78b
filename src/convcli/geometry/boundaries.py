"""convcli's boundary names, the other libraries' names that mean one of them, and the names
refused as ambiguous (README, Boundaries)."""

from __future__ import annotations

from ..errors import did_you_mean

#: convcli's boundary names (README, Boundaries), each with the ``numpy.pad`` mode that fills the padding.
BOUNDARIES = {
    "zero": "constant",
    "constant": "constant",
    "reflect": "reflect",
    "symmetric": "symmetric",
    "edge": "edge",
    "wrap": "wrap",
}
#: Other libraries' names that mean exactly one of ours.
BOUNDARY_ALIASES = {
    "replicate": "edge",
    "nearest": "edge",
    "circular": "wrap",
    "symm": "symmetric",
    "fill": "constant",
}
#: Names refused with an explanation rather than guessed: not offered (help, completion), but
#: answered. `mirror` means `reflect` to scipy.ndimage but something else elsewhere.
AMBIGUOUS_BOUNDARIES = {
    "mirror": "`mirror` is ambiguous: use `reflect` (c b [a b c d] c b, scipy.ndimage 'mirror', "
    "OpenCV REFLECT_101) or `symmetric` (b a [a b c d] d c, scipy.ndimage 'reflect')",
}


def resolve_boundary(boundary: str) -> str:
    """Return convcli's name for ``boundary``, accepting unambiguous aliases (any case).

    Raises
    ------
    ValueError
        For an ambiguous name (:data:`AMBIGUOUS_BOUNDARIES`, with the names to use instead) or an
        unknown one (with the closest names).

    Examples
    --------
    >>> resolve_boundary("replicate")
    'edge'
    >>> resolve_boundary("Zero")
    'zero'
    >>> resolve_boundary("reflct")
    Traceback (most recent call last):
    ...
    ValueError: `boundary` must be one of zero, ... got 'reflct'; did you mean 'reflect' or 'replicate'?
    """
    name = str(boundary).lower()
    if name in BOUNDARIES:
        return name
    if name in BOUNDARY_ALIASES:
        return BOUNDARY_ALIASES[name]
    if name in AMBIGUOUS_BOUNDARIES:
        raise ValueError(AMBIGUOUS_BOUNDARIES[name])
    hint = did_you_mean(name, [*BOUNDARIES, *BOUNDARY_ALIASES])
    raise ValueError(
        f"`boundary` must be one of {', '.join(BOUNDARIES)} "
        f"(or {', '.join(BOUNDARY_ALIASES)}), got {boundary!r}" + (f"; {hint}" if hint else "")
    )
