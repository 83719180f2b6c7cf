"""A pseudo-terminal that stands in for a meter's serial port."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
import tty
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterator

DEFAULT_PTY_LINK: Final = "/tmp/dlms-smartmeter/ttyMETER"  # noqa: S108 - a fixed, documented path
"""Stable path of the virtual serial port (a symbolic link to the pty)."""


def create_virtual_serial_port(link_path: str = DEFAULT_PTY_LINK) -> tuple[int, str]:
    """A pseudo-terminal that stands in for the meter's serial port.

    Returns ``(master_fd, slave_path)``: frames written to ``master_fd`` are
    read from the slave like from a serial port. The slave is put into raw
    mode at once (no echo, no line editing, no CR/LF translation), and a
    symbolic link at ``link_path`` points at it so that configurations can
    use a stable path. An existing link there is replaced; any other file is
    left alone (``FileExistsError``). Writes to ``master_fd`` do not block.
    """
    link = Path(link_path)
    if link.exists() and not link.is_symlink():
        raise FileExistsError(
            errno.EEXIST, "not replacing a file that is no symbolic link", link_path
        )
    link.parent.mkdir(parents=True, exist_ok=True)
    master_fd, slave_fd = os.openpty()
    try:
        tty.setraw(slave_fd)
        slave_path = os.ttyname(slave_fd)
        temporary = link.with_name(f".{link.name}.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        temporary.symlink_to(slave_path)
        temporary.replace(link)
        os.set_blocking(master_fd, False)
    except BaseException:
        os.close(master_fd)
        raise
    finally:
        # The pty keeps its settings while the master is open.
        os.close(slave_fd)
    return master_fd, slave_path


def remove_virtual_serial_port(
    master_fd: int, link_path: str = DEFAULT_PTY_LINK
) -> None:
    """Close the pseudo-terminal and remove its link (if it still points at a pty)."""
    with contextlib.suppress(OSError):
        os.close(master_fd)
    link = Path(link_path)
    if link.is_symlink() and str(link.readlink()).startswith("/dev/"):
        link.unlink()


@contextlib.contextmanager
def virtual_serial_port(link_path: str = DEFAULT_PTY_LINK) -> Iterator[tuple[int, str]]:
    """:func:`create_virtual_serial_port` as a context manager that cleans up."""
    master_fd, slave_path = create_virtual_serial_port(link_path)
    try:
        yield master_fd, slave_path
    finally:
        remove_virtual_serial_port(master_fd, link_path)
