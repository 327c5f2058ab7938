"""The embedded demo corpus: docstrings of the Python standard library, so `make run` needs no download."""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Iterator

from latent.records import DocumentInput

# Well-documented, side-effect-free modules; sorted for a deterministic corpus.
MODULES = sorted(
    """abc argparse array ast asyncio base64 bisect bz2 calendar cmath codecs collections collections.abc
    concurrent.futures configparser contextlib copy csv dataclasses datetime decimal difflib dis email
    enum filecmp fnmatch fractions functools getpass gettext glob graphlib gzip hashlib heapq hmac html
    html.parser http.client http.server imaplib importlib inspect io ipaddress itertools json keyword
    linecache locale logging lzma mailbox math mimetypes multiprocessing netrc numbers operator os os.path
    pathlib pickle pkgutil platform plistlib poplib pprint profile pstats queue random re reprlib sched
    secrets selectors shelve shlex shutil signal smtplib socket socketserver sqlite3 ssl stat statistics
    string struct subprocess symtable sys sysconfig tarfile tempfile textwrap threading time timeit token
    tokenize trace traceback types typing unicodedata unittest urllib.parse urllib.request uuid warnings
    weakref xml.dom.minidom xml.etree.ElementTree zipfile zlib zoneinfo""".split()
)


def _kind(obj: object) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "class"
    return "function"


def demo_documents(limit: int | None = None) -> Iterator[DocumentInput]:
    """Modules, classes, functions and methods with real docstrings (at least 40 characters)."""
    seen: set[str] = set()
    count = 0
    for module_name in MODULES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                module = importlib.import_module(module_name)
            except Exception:  # noqa: BLE001 - an optional stdlib module missing on this build
                continue
        members: list[tuple[str, object]] = [(module_name, module)]
        for name, obj in sorted(vars(module).items()):
            if name.startswith("_") or getattr(obj, "__module__", module_name) != module.__name__:
                continue
            if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
                members.append((f"{module_name}.{name}", obj))
                if inspect.isclass(obj):
                    for mname, meth in sorted(vars(obj).items()):
                        if not mname.startswith("_") and callable(meth):
                            members.append((f"{module_name}.{name}.{mname}", meth))
        for qualname, obj in members:
            doc = inspect.getdoc(obj) or ""
            if qualname in seen or len(doc) < 40:
                continue
            seen.add(qualname)
            yield DocumentInput(
                id=qualname,
                title=qualname,
                text=doc,
                metadata={"module": module_name, "kind": _kind(obj), "package": module_name.split(".")[0]},
            )
            count += 1
            if limit is not None and count >= limit:
                return
