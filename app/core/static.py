"""Static files: Litestar's router on a file system where a name that cannot exist is simply
not found. The operating system refuses some names outright (longer than NAME_MAX is
ENAMETOOLONG); Litestar turns any such OSError into a 500, which a typed URL must never cause."""

from __future__ import annotations

from typing import Any

from litestar.file_system import BaseLocalFileSystem
from litestar.types import PathType
from litestar.types.file_types import FileInfo


class StaticFileSystem(BaseLocalFileSystem):
    async def info(self, path: PathType, **kwargs: Any) -> FileInfo:
        try:
            return await super().info(path, **kwargs)
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as exc:  # ENAMETOOLONG, ENOTDIR, embedded NUL…
            raise FileNotFoundError(str(path)) from exc
