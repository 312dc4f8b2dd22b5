"""One exception hierarchy for fusionrec.

::

    FusionrecError
    ├── ConfigError          an experiment file or flag has a bad value
    ├── DataError            input data cannot be used as given
    │   ├── DataFileError    a file is missing, unreadable or malformed
    │   ├── UnknownIdError   raw ids that the vocabulary does not know
    │   └── FeatureShapeError  a feature array does not match the items
    ├── ModelError           a model is used before fit, or mis-configured
    ├── EncoderError         an encoder cannot be built (missing package or weights)
    └── ArtifactError        a saved artifact is tampered, partial or incompatible

Every message says what was wrong, the value received, what was expected
and how to fix it.
"""

from __future__ import annotations


class FusionrecError(Exception):
    """Base class of every error fusionrec raises on purpose."""


class ConfigError(FusionrecError, ValueError):
    """An experiment configuration value is invalid."""


class DataError(FusionrecError, ValueError):
    """Input data cannot be used as given."""


class DataFileError(DataError):
    """A data file is missing, unreadable or malformed."""


class UnknownIdError(DataError, KeyError):
    """Raw ids were given that the vocabulary does not contain."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class FeatureShapeError(DataError):
    """A feature array does not have one row per item."""


class ModelError(FusionrecError, RuntimeError):
    """A model is mis-configured or used before it was fitted."""


class EncoderError(FusionrecError, RuntimeError):
    """An encoder cannot be built or run."""


class ArtifactError(FusionrecError):
    """A saved artifact is tampered, partial or incompatible."""


__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "DataFileError",
    "EncoderError",
    "FeatureShapeError",
    "FusionrecError",
    "ModelError",
    "UnknownIdError",
]
