"""The Python package's build backend (PEP 517 and PEP 660), in the source tree and standard
library only: `pip install ./python` needs nothing from an index, so it works offline on a fresh
machine, in a venv, with or without setuptools.

pip finds it through pyproject.toml (build-backend = "memline_build", backend-path = ["_build"])
and calls the hooks below. The package is pure Python: the wheel is the files of memline/ and a
dist-info directory, py3-none-any. The metadata is here; the version is memline/__init__.py's
__version__, the long description README.md.

Also a command, for `make install-python` (no pip needed):

    python3 _build/memline_build.py install --prefix PREFIX [--destdir DESTDIR]
    python3 _build/memline_build.py install --target DIR     # unpacks the wheel into DIR
"""

import base64
import hashlib
import io
import os
import re
import sys
import tarfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "memline"

SUMMARY = ("Mark events and spans on memline's timeline, record Python code with memline, "
           "read memline logs")
REQUIRES_PYTHON = ">=3.8"
LICENSE = "MIT"
CLASSIFIERS = [
    "Programming Language :: Python :: 3",
    "Operating System :: POSIX :: Linux",
    "License :: OSI Approved :: MIT License",
]
EXTRAS = {"pandas": ["pandas"]}


def version():
    """memline/__init__.py's __version__."""
    with open(os.path.join(ROOT, NAME, "__init__.py"), encoding="utf-8") as f:
        m = re.search(r'^__version__ = "([^"]+)"$', f.read(), re.M)
    if not m:
        raise RuntimeError("memline/__init__.py has no __version__ = \"...\" line")
    return m[1]


def _dist_info():
    return f"{NAME}-{version()}.dist-info"


def _timestamp():
    """The files' time in archives: $SOURCE_DATE_EPOCH, else 1980 (the earliest zip allows),
    so that a build is the same bytes every time."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    t = int(epoch) if epoch and epoch.isdigit() else 315532800
    return max(t, 315532800)


def metadata():
    """The METADATA (PKG-INFO) text: core metadata 2.1."""
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {NAME}",
        f"Version: {version()}",
        f"Summary: {SUMMARY}",
        f"License: {LICENSE}",
        f"Requires-Python: {REQUIRES_PYTHON}",
    ]
    lines += [f"Classifier: {c}" for c in CLASSIFIERS]
    for extra, reqs in EXTRAS.items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {r}; extra == "{extra}"' for r in reqs]
    lines.append("Description-Content-Type: text/markdown")
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return "\n".join(lines) + "\n\n" + readme


def _wheel_file():
    return ("Wheel-Version: 1.0\n"
            f"Generator: memline_build {version()}\n"
            "Root-Is-Purelib: true\n"
            "Tag: py3-none-any\n")


def _package_files():
    """(archive name, path) of every module of the package, sorted."""
    pkg = os.path.join(ROOT, NAME)
    return [(f"{NAME}/{n}", os.path.join(pkg, n)) for n in sorted(os.listdir(pkg))
            if n.endswith(".py") and os.path.isfile(os.path.join(pkg, n))]


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _wheel_entries(editable):
    """(archive name, bytes) of the wheel, RECORD last."""
    entries = []
    if editable:
        # The source tree itself on sys.path: edits show without reinstalling.
        entries.append((f"_{NAME}_editable.pth", (ROOT + "\n").encode()))
    else:
        for name, path in _package_files():
            with open(path, "rb") as f:
                entries.append((name, f.read()))
    info = _dist_info()
    entries.append((f"{info}/METADATA", metadata().encode("utf-8")))
    entries.append((f"{info}/WHEEL", _wheel_file().encode()))
    entries.append((f"{info}/top_level.txt", f"{NAME}\n".encode()))
    record = [_record_line(n, d) for n, d in entries] + [f"{info}/RECORD,,"]
    entries.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    return entries


def _write_wheel(wheel_directory, editable):
    name = f"{NAME}-{version()}-py3-none-any.whl"
    date = time.gmtime(_timestamp())[:6]
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w",
                         zipfile.ZIP_DEFLATED) as z:
        for arcname, data in _wheel_entries(editable):
            zi = zipfile.ZipInfo(arcname, date)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return name


# ---- PEP 517 ----


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = _dist_info()
    d = os.path.join(metadata_directory, info)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "METADATA"), "w", encoding="utf-8") as f:
        f.write(metadata())
    with open(os.path.join(d, "WHEEL"), "w", encoding="utf-8") as f:
        f.write(_wheel_file())
    return info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, editable=False)


def build_sdist(sdist_directory, config_settings=None):
    """memline-VERSION.tar.gz: PKG-INFO, pyproject.toml, README.md, the backend, the package."""
    base = f"{NAME}-{version()}"
    files = [("pyproject.toml", os.path.join(ROOT, "pyproject.toml")),
             ("README.md", os.path.join(ROOT, "README.md")),
             ("_build/memline_build.py", os.path.abspath(__file__))] + _package_files()
    name = f"{base}.tar.gz"
    mtime = _timestamp()

    def add(tar, arcname, data):
        ti = tarfile.TarInfo(f"{base}/{arcname}")
        ti.size, ti.mtime, ti.mode = len(data), mtime, 0o644
        ti.uname = ti.gname = ""
        tar.addfile(ti, io.BytesIO(data))

    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "PKG-INFO", metadata().encode("utf-8"))
        for arcname, path in files:
            with open(path, "rb") as f:
                add(tar, arcname, f.read())
    return name


# ---- PEP 660 (pip install -e) ----


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    return prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, editable=True)


# ---- make install-python ----


def install(target):
    """Unpacks the wheel into target (a site-packages directory), replacing an earlier copy of
    the package, as an installer would; byte-compiles nothing."""
    import shutil
    os.makedirs(target, exist_ok=True)
    for old in [NAME] + [n for n in os.listdir(target)
                         if n.startswith(f"{NAME}-") and n.endswith(".dist-info")]:
        path = os.path.join(target, old)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
    entries = _wheel_entries(editable=False)
    info = _dist_info()
    entries.insert(-1, (f"{info}/INSTALLER", b"make\n"))
    for arcname, data in entries:
        path = os.path.join(target, *arcname.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o644)
    return os.path.join(target, NAME)


def site_dir(prefix):
    """Where packages go under prefix for this Python: the directory of prefix on sys.path
    (Debian's lib/pythonX.Y/dist-packages for /usr/local), else lib/pythonX.Y/site-packages."""
    import sysconfig
    prefix = os.path.abspath(prefix)
    v = "python%d.%d" % sys.version_info[:2]
    for d in (os.path.join(prefix, "lib", v, "dist-packages"),
              os.path.join(prefix, "lib", v, "site-packages")):
        if d in sys.path:
            return d
    return sysconfig.get_path("purelib", "posix_prefix", vars={"base": prefix, "platbase": prefix})


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="memline_build.py",
                                 description="install the memline Python package without pip")
    sub = ap.add_subparsers(dest="cmd", required=True)
    inst = sub.add_parser("install", help="unpack the package into a site-packages directory")
    where = inst.add_mutually_exclusive_group(required=True)
    where.add_argument("--target", help="the directory itself")
    where.add_argument("--prefix", help="the prefix (PREFIX of make install): its directory "
                                        "for this Python")
    inst.add_argument("--destdir", default="", help="a staging root put before it (DESTDIR)")
    sub.add_parser("site-dir", help="print where --prefix installs").add_argument("prefix")
    args = ap.parse_args(argv)
    if args.cmd == "site-dir":
        print(site_dir(args.prefix))
        return 0
    target = args.target or site_dir(args.prefix)
    if args.destdir:
        target = os.path.join(args.destdir, target.lstrip("/"))
    try:
        path = install(target)
    except OSError as e:
        sys.stderr.write(f"memline_build.py: cannot install into '{target}': {e.strerror}\n")
        return 73
    print(f"installed the memline Python package in {path}")
    if not args.target and not args.destdir and os.path.dirname(path) not in sys.path:
        print(f"note: {os.path.dirname(path)} is not on {sys.executable}'s path: add it to "
              "PYTHONPATH")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
