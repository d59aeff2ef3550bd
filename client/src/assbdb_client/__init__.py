"""assbdb-client: the assbdb REST API from Python, and `assbdb-harvest`, the instrument-folder harvester."""
from .client import Client
from .errors import (
    AssbdbError,
    AuthenticationFailed,
    ConnectionFailed,
    JobFailed,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    ValidationError,
)
from .records import Records, Spectrum
from .resources import FolderUpload

__version__ = "0.1.0"
__all__ = [
    "AssbdbError",
    "AuthenticationFailed",
    "Client",
    "ConnectionFailed",
    "FolderUpload",
    "JobFailed",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "Records",
    "ServerError",
    "Spectrum",
    "ValidationError",
]
