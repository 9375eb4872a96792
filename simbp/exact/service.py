"""The service's memory and crashes: shared by both engines, defined in `simbp.service`."""

from ..service import Service

__all__ = ["Service"]
