"""Where track() puts its event channel: the same rules as memline's own (lib/record/channel-dir.c).

The directory is BASE/memline-PID-START-XXXXXX (mode 0700) with the channel file `events`
(mode 0600) in it; PID and START (field 22 of /proc/PID/stat) name the process that made it,
which holds a flock() on the directory for as long as it uses it. BASE is $XDG_RUNTIME_DIR when
that is a directory of this user with mode 0700, /run/memline for root, else /tmp: a place
where nobody else can create the directory again once it is removed, when there is one.

A directory is stale when no process PID with that start time lives and nobody holds its lock;
the stale ones of this user are removed whenever a new one is made (a track()ed process killed
with SIGKILL cannot remove its own).
"""

import fcntl
import os
import re
import secrets
import stat
import string

__all__ = ["ChannelDir", "base_dir", "clean_stale"]

_RUN_BASE = "/run/memline"
_NAME = re.compile(r"memline-([0-9]+)-([0-9]+)-[A-Za-z0-9]{6}")
_LETTERS = string.ascii_letters + string.digits
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _dir_is(path, owner, private):
    """Whether path is a directory (not a link) of owner: mode exactly 0700 when private, else
    writable by neither group nor others."""
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    mode = stat.S_IMODE(st.st_mode)
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == owner
            and (mode == 0o700 if private else not mode & 0o022))


def base_dir():
    """The directory channel directories go in now."""
    me = os.geteuid()
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and xdg.startswith("/") and _dir_is(xdg, me, True):
        return xdg
    if me == 0 and _dir_is("/run", 0, False):
        try:
            os.mkdir(_RUN_BASE, 0o700)
        except OSError:
            pass  # there already, or a read-only /run: checked next
        if _dir_is(_RUN_BASE, 0, False):
            return _RUN_BASE
    return "/tmp"


def start_time(pid):
    """The start time of process pid (clock ticks since boot), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        # The command name (field 2) may hold anything but ends at the last ')'.
        return int(data[data.rindex(b")") + 2:].split()[19])
    except (ValueError, IndexError):
        return None


def _remove_if_stale(base_fd, name):
    m = _NAME.fullmatch(name)
    if not m:
        return False
    try:
        st = os.stat(name, dir_fd=base_fd, follow_symlinks=False)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        return False
    if start_time(int(m[1])) == int(m[2]):
        return False  # its maker lives
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=base_fd)
    except OSError:
        return False
    try:
        st2 = os.fstat(fd)
        if (st2.st_dev, st2.st_ino, st2.st_uid) != (st.st_dev, st.st_ino, os.geteuid()):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # in use: a forked child of its maker, or another pid namespace
        for entry in os.listdir(fd):
            try:
                os.unlink(entry, dir_fd=fd)
            except OSError:
                pass
        try:
            os.rmdir(name, dir_fd=base_fd)
        except OSError:
            return False
        return True
    finally:
        os.close(fd)


def clean_stale(base):
    """Removes the stale channel directories of this user in base; returns how many. Never
    one of another user, one whose maker lives, one locked, or one not named like ours."""
    try:
        base_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        return sum(_remove_if_stale(base_fd, name) for name in os.listdir(base_fd))
    except OSError:
        return 0
    finally:
        os.close(base_fd)


class ChannelDir:
    """A new private channel directory: .dir, .file (its `events`), locked until remove()."""

    def __init__(self):
        base = base_dir()
        clean_stale(base)
        pid = os.getpid()
        prefix = os.path.join(base, f"memline-{pid}-{start_time(pid) or 0}-")
        # Six random letters or digits, as memline's mkdtemp(3) names them.
        for _ in range(100):
            path = prefix + "".join(secrets.choice(_LETTERS) for _ in range(6))
            try:
                os.mkdir(path, 0o700)
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(f"cannot find a free name {prefix}XXXXXX")
        self.dir = path
        self.file = os.path.join(self.dir, "events")
        self._fd = -1
        try:
            self._fd = os.open(self.dir, _DIR_FLAGS)
            os.fchmod(self._fd, 0o700)  # mkdtemp's 0700 is cut by the umask
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fd = os.open("events", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
                         | os.O_NOFOLLOW, 0o600, dir_fd=self._fd)
            try:
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
        except BaseException:
            self.remove()
            raise

    def remove(self):
        """Removes the directory and what it holds, then lets go of the lock."""
        if self._fd >= 0:
            for entry in os.listdir(self._fd):
                try:
                    os.unlink(entry, dir_fd=self._fd)
                except OSError:
                    pass
        try:
            os.rmdir(self.dir)
        except OSError:
            pass
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
