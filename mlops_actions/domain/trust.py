"""Which types a model file may hold when it is loaded: the reviewed config decides, nothing else.

The allowed set is the config's ``train.trusted_types``, plus skops' own defaults (which skops applies) and
the reviewed list of stock scikit-learn internals (``trusted_defaults.py``). A model folder's
``metadata.json``, a registry manifest or a downloaded artifact can only narrow the config's part
(:meth:`Trust.narrowed` intersects), never widen it.

Before skops sees a file, :func:`audit_schema` walks its ``schema.json`` itself, every node of every
loader kind: a reference into a module or function that can run commands or code (``os``, ``subprocess``,
``builtins.exec``...) is refused even when a config lists it, and so is an unknown ``__loader__``, a
malformed name, an ``operator`` factory reaching private attributes and a bit generator that is not one.
Nothing from the file is imported or constructed before both audits pass.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import ModelError

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config

CONFIG_KEY = "train.trusted_types"
SCHEMA_FILE = "schema.json"
MAX_SCHEMA_BYTES = 64 * 1024**2
MAX_SCHEMA_NODES = 1_000_000

# Modules no model may reference: they run commands or code, load pickles, reach the network or the
# interpreter's internals. A name is refused when its module is one of these or inside one of them.
NEVER_TRUSTED_MODULES = frozenset(
    {
        "_ctypes",
        "_imp",
        "_io",
        "_multiprocessing",
        "_pickle",
        "_posixsubprocess",
        "_socket",
        "_thread",
        "asyncio",
        "bdb",
        "cloudpickle",
        "code",
        "codeop",
        "concurrent",
        "copyreg",
        "cProfile",
        "ctypes",
        "dbm",
        "dill",
        "distutils",
        "ensurepip",
        "ftplib",
        "gc",
        "glob",
        "http",
        "imaplib",
        "imp",
        "importlib",
        "inspect",
        "io",
        "joblib",
        "marshal",
        "mlops_actions",
        "multiprocessing",
        "nt",
        "numpy.ctypeslib",
        "numpy.distutils",
        "numpy.f2py",
        "numpy.lib.format",
        "numpy.lib.npyio",
        "numpy.testing",
        "os",
        "pandas.io",
        "pathlib",
        "pdb",
        "pickle",
        "pip",
        "pkgutil",
        "platform",
        "poplib",
        "posix",
        "profile",
        "pty",
        "requests",
        "runpy",
        "setuptools",
        "shelve",
        "shutil",
        "signal",
        "site",
        "skops",
        "smtplib",
        "socket",
        "socketserver",
        "subprocess",
        "sys",
        "sysconfig",
        "telnetlib",
        "tempfile",
        "threading",
        "timeit",
        "trace",
        "types",
        "urllib",
        "urllib3",
        "venv",
        "webbrowser",
        "xmlrpc",
        "yaml",
        "zipimport",
    }
)
# Single functions that run code or reach anything by name, in modules that are otherwise harmless.
NEVER_TRUSTED_NAMES = frozenset(
    {
        "builtins.__build_class__",
        "builtins.__import__",
        "builtins.breakpoint",
        "builtins.compile",
        "builtins.delattr",
        "builtins.eval",
        "builtins.exec",
        "builtins.exit",
        "builtins.getattr",
        "builtins.globals",
        "builtins.help",
        "builtins.input",
        "builtins.locals",
        "builtins.open",
        "builtins.quit",
        "builtins.setattr",
        "builtins.vars",
        "numpy.fromfile",
        "numpy.load",
        "numpy.loadtxt",
        "pandas.read_pickle",
        "operator.call",
    }
)
# Every loader of skops 0.16's format (protocols 0 to 2); a file naming another one is refused.
KNOWN_LOADERS = frozenset(
    {
        "BytearrayNode",
        "BytesNode",
        "CachedNode",
        "ConstructorFromReduceNode",
        "DTypeNode",
        "DefaultDictNode",
        "DictNode",
        "FunctionNode",
        "JsonNode",
        "ListNode",
        "LossNode",
        "MaskedArrayNode",
        "MethodNode",
        "NdArrayNode",
        "ObjectNode",
        "OperatorFuncNode",
        "PartialNode",
        "QuantileForestNode",
        "RandomGeneratorNode",
        "RandomStateNode",
        "SetNode",
        "SliceNode",
        "SparseMatrixNode",
        "TreeNode",
        "TupleNode",
        "TypeNode",
        "_DictWithDeprecatedKeysNode",
    }
)
OPERATOR_FACTORIES = frozenset({"attrgetter", "itemgetter", "methodcaller"})
BIT_GENERATORS = frozenset({"MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64"})
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRUSTED_TYPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def never_trusted_reason(name: str) -> str | None:
    """Why the qualified ``name`` (``module.attribute``) may never be trusted, or None when it may be."""
    if name in NEVER_TRUSTED_NAMES:
        return "it runs code or reaches objects by name"
    parts = name.split(".")
    for end in range(1, len(parts) + 1):
        if ".".join(parts[:end]) in NEVER_TRUSTED_MODULES:
            return f"module {'.'.join(parts[:end])} can run commands or code"
    return None


def trusted_types_problems(values: Sequence[Any]) -> list[str]:
    """Problems of a config's ``train.trusted_types`` list, one line each (the config's own check)."""
    problems = []
    for index, value in enumerate(values):
        key = f"{CONFIG_KEY}[{index}]"
        if not isinstance(value, str) or not _TRUSTED_TYPE.match(value):
            problems.append(f"{key}: {value!r} is not a type name, expected module.Name")
            continue
        reason = never_trusted_reason(value)
        if reason:
            problems.append(f"{key}: {value!r} can never be trusted ({reason}); remove it")
    return problems


@dataclass(frozen=True)
class Trust:
    """The types a load may allow beyond skops' defaults, and where that decision comes from."""

    configured: frozenset[str]  # what the reviewed config lists
    config: str  # where that config is (a path, or a file at a commit)
    allowed: frozenset[str] | None = None  # what remains after narrowing; None: all of ``configured``
    narrowed_by: tuple[str, ...] = ()  # files that narrowed it (a model's metadata.json...)

    @classmethod
    def from_config(cls, config: Config, *, label: str | None = None) -> Trust:
        """Trust exactly what the config's ``train.trusted_types`` lists."""
        return cls(frozenset(config.trusted_types), label or str(config.path))

    @property
    def project_types(self) -> frozenset[str]:
        """What the reviewed config allows, after narrowing."""
        return self.configured if self.allowed is None else self.allowed

    @property
    def types(self) -> frozenset[str]:
        """The types a load may allow beyond skops' defaults: the reviewed list of stock scikit-learn internals
        (always, like skops' own defaults) and the config's."""
        from mlops_actions.domain.trusted_defaults import STOCK_TRUSTED_TYPES

        return STOCK_TRUSTED_TYPES | self.project_types

    def narrowed(self, declared: Any, source: str | Path) -> Trust:
        """Only what both the config's trust and ``declared`` allow; a declaration that is not a list of names
        allows nothing more, and a missing one (None) leaves the trust as it is."""
        if declared is None:
            return self
        names = {d for d in declared if isinstance(d, str)} if isinstance(declared, list) else set()
        return Trust(
            self.configured, self.config, self.project_types & names, (*self.narrowed_by, str(source))
        )

    def refusal(self, path: str | Path, refused: Iterable[str]) -> str:
        """The one-line reason ``path`` is refused for holding the ``refused`` types."""
        refused = sorted(refused)
        missing = [name for name in refused if name not in self.configured]
        outside = [name for name in refused if name in self.configured]
        parts = []
        if missing:
            parts.append(
                f"{', '.join(missing)} (review them and list them under {CONFIG_KEY} in {self.config} "
                "to allow them)"
            )
        if outside:
            parts.append(f"{', '.join(outside)} (not listed in {', '.join(self.narrowed_by)})")
        return f"{path}: model holds types that are not trusted: {'; '.join(parts)}"


@dataclass(frozen=True)
class _Reference:
    name: str
    loader: str


def _qualified(module: Any, name: Any, loader: str, path: str | Path) -> str:
    if not (
        isinstance(module, str) and _MODULE.match(module) and isinstance(name, str) and _NAME.match(name)
    ):
        raise ModelError(
            f"{path}: model schema has a {loader} naming {str(module)[:60]!r}.{str(name)[:60]!r}, "
            "expected a module and a plain name"
        )
    return f"{module}.{name}"


def _operator_names(node: dict[str, Any], path: str | Path) -> list[str]:
    """The attribute or method names an ``attrgetter``/``methodcaller`` will follow: they must be plain JSON
    strings in a tuple, as skops writes them (so no other node can hide a name there)."""
    factory = node["__class__"]
    attrs = node.get("attrs")
    items = (
        attrs.get("content") if isinstance(attrs, dict) and attrs.get("__loader__") == "TupleNode" else None
    )
    if not isinstance(items, list):
        items = None
    named = items if factory == "attrgetter" or items is None else items[:1]
    names = []
    for item in named or [None]:
        value = None
        if isinstance(item, dict) and item.get("__loader__") == "JsonNode":
            try:
                value = json.loads(item.get("content", "null"))
            except (TypeError, ValueError):
                value = None
        if not isinstance(value, str):
            raise ModelError(
                f"{path}: model schema builds operator.{factory} without plain attribute names; refusing it"
            )
        names.append(value)
    return names


def _bit_generator_name(content: Any) -> Any:
    """The bit generator class name a RandomGeneratorNode will call (a raw dict in protocol 0)."""
    state = content.get("bit_generator") if isinstance(content, dict) else None
    if not isinstance(state, dict):
        return None
    if "__loader__" not in state:
        return state.get("bit_generator")
    name_node = (
        (state.get("content") or {}).get("bit_generator") if isinstance(state.get("content"), dict) else None
    )
    try:
        return json.loads(name_node["content"]) if isinstance(name_node, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def _node_references(node: dict[str, Any], path: str | Path) -> list[_Reference]:
    """The names one node makes skops import, call or look up; ModelError for a node no loader may build."""
    loader = node.get("__loader__")
    if not isinstance(loader, str) or loader not in KNOWN_LOADERS:
        raise ModelError(
            f"{path}: model schema uses an unknown loader {str(loader)[:60]!r}; refusing to load it"
        )
    if loader == "CachedNode":  # a reference by id to a node already audited
        return []
    name = _qualified(node.get("__module__"), node.get("__class__"), loader, path)
    found = [_Reference(name, loader)]
    content = node.get("content")
    if loader == "FunctionNode" and isinstance(content, dict):  # protocol 0 names the function in content
        found.append(
            _Reference(_qualified(content.get("module_path"), content.get("function"), loader, path), loader)
        )
    elif loader == "MethodNode":
        method = content.get("func") if isinstance(content, dict) else None
        if not isinstance(method, str) or not _NAME.match(method) or method.startswith("__"):
            raise ModelError(
                f"{path}: model schema binds the method {str(method)[:60]!r} of {name}; refusing it"
            )
        found.append(_Reference(f"{name}.{method}", loader))
    elif loader == "OperatorFuncNode":
        if node["__module__"] != "operator" or node["__class__"] not in OPERATOR_FACTORIES:
            raise ModelError(
                f"{path}: model schema builds {name} as an operator function, expected one of "
                f"operator.{', operator.'.join(sorted(OPERATOR_FACTORIES))}"
            )
        if node["__class__"] != "itemgetter":
            arguments = _operator_names(node, path)
            private = [a for a in arguments if any(part.startswith("_") for part in a.split("."))]
            if private:
                raise ModelError(
                    f"{path}: model schema builds {name} reaching {private[0][:60]!r}, a private attribute; "
                    "refusing it"
                )
    elif loader == "RandomGeneratorNode":
        generator = _bit_generator_name(content)
        if generator not in BIT_GENERATORS:
            raise ModelError(
                f"{path}: model schema builds a random generator from {str(generator)[:60]!r}, expected one of "
                f"{', '.join(sorted(BIT_GENERATORS))}"
            )
    return found


def schema_references(schema: Any, path: str | Path = "model") -> Iterator[_Reference]:
    """Every name the schema makes skops import, call or look up, node by node (any depth, any loader)."""
    stack = [schema]
    seen = 0
    while stack:
        value = stack.pop()
        seen += 1
        if seen > MAX_SCHEMA_NODES:
            raise ModelError(f"{path}: model schema has more than {MAX_SCHEMA_NODES} entries; refusing it")
        if isinstance(value, dict):
            if "__loader__" in value:
                yield from _node_references(value, path)
            elif "__module__" in value or "__class__" in value:
                raise ModelError(f"{path}: model schema names a type outside any loader; refusing it")
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def audit_schema(schema: Any, path: str | Path = "model") -> None:
    """Refuse a schema that references anything never trusted, whatever a config says (ModelError)."""
    if not isinstance(schema, dict):
        raise ModelError(f"{path}: model schema is not a JSON object")
    protocol = schema.get("protocol")
    if isinstance(protocol, bool) or not isinstance(protocol, int):
        raise ModelError(f"{path}: model schema has no integer skops protocol")
    for reference in schema_references(schema, path):
        reason = never_trusted_reason(reference.name)
        if reason:
            raise ModelError(
                f"{path}: model references {reference.name} (in a {reference.loader}), which is never trusted "
                f"({reason}); no config can allow it"
            )


def read_schema(data: bytes, path: str | Path = "model") -> Any:
    """The parsed ``schema.json`` of a skops file given as bytes (size capped); ModelError when unreadable."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            info = bundle.getinfo(SCHEMA_FILE)
            if info.file_size > MAX_SCHEMA_BYTES:
                raise ModelError(f"{path}: model schema is larger than {MAX_SCHEMA_BYTES} bytes; refusing it")
            with bundle.open(info) as handle:
                raw = handle.read(MAX_SCHEMA_BYTES + 1)
        if len(raw) > MAX_SCHEMA_BYTES:
            raise ModelError(f"{path}: model schema is larger than {MAX_SCHEMA_BYTES} bytes; refusing it")
        return json.loads(raw)
    except ModelError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, RecursionError, OSError) as error:
        raise ModelError(
            f"{path}: not a readable skops model file ({str(error).splitlines()[0][:120]})"
        ) from None


def audit_model(data: bytes, path: str | Path, trust: Trust) -> list[str]:
    """Audit a skops file (as bytes): our schema walk, then skops' own list of types outside its defaults,
    each of which ``trust`` must allow. Returns the types to hand to skops; nothing is imported or built."""
    import skops.io as sio

    audit_schema(read_schema(data, path), path)
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as error:  # skops refuses malformed trees with assorted exceptions
        raise ModelError(
            f"{path}: not a readable skops model file ({type(error).__name__}: {str(error).splitlines()[0][:120]})"
        ) from None
    for name in untrusted:  # the names skops will import; the walk above saw them, this is belt and braces
        reason = never_trusted_reason(name)
        if reason:
            raise ModelError(
                f"{path}: model references {name}, which is never trusted ({reason}); no config can allow it"
            )
    refused = [name for name in untrusted if name not in trust.types]
    if refused:
        raise ModelError(trust.refusal(path, refused))
    return sorted(untrusted)
