"""Which tar members are unsafe to read: archives are scanned member by member, never extracted blindly."""

from __future__ import annotations

import re
import tarfile
from pathlib import PurePosixPath

__all__ = ["unsafe_member"]


def unsafe_member(member: tarfile.TarInfo) -> str | None:
    """Why a tar member is unsafe, or None if it is a plain file or directory with a safe path.

    Unsafe: absolute paths (POSIX, backslash or drive letter), ``..`` components, symbolic and hard
    links, devices, FIFOs and any other special member type.
    """
    name = member.name
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "'..' path component"
    if member.issym():
        return f"symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"hard link (to {member.linkname!r})"
    if member.ischr() or member.isblk():
        return "device file"
    if member.isfifo():
        return "FIFO"
    if not (member.isfile() or member.isdir()):
        return f"unsupported member type {member.type!r}"
    return None
