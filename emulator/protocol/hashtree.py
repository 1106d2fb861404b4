"""Hash trees of the IC certification scheme (IC interface spec, "Certification" → "Encoding of
certificates" and "Lookup").

Only what a single-subnet emulator needs: build trees from nested maps, hash them, encode them as
the CBOR arrays agents parse, and look values up (for tests and for reading our own certificates).
Trees are always built balanced — cbor2 and other decoders bound nesting depth (cbor2: 400), so a
linear fork chain over a few hundred labels would make our own certificates undecodable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias


def _domain_sep(name: str) -> bytes:
    encoded = name.encode("ascii")
    return bytes([len(encoded)]) + encoded


EMPTY_DOMAIN: Final = _domain_sep("ic-hashtree-empty")
FORK_DOMAIN: Final = _domain_sep("ic-hashtree-fork")
LABELED_DOMAIN: Final = _domain_sep("ic-hashtree-labeled")
LEAF_DOMAIN: Final = _domain_sep("ic-hashtree-leaf")

DIGEST_LENGTH: Final = 32


@dataclass(frozen=True, slots=True)
class Empty:
    pass


@dataclass(frozen=True, slots=True)
class Fork:
    left: HashTree
    right: HashTree


@dataclass(frozen=True, slots=True)
class Labeled:
    label: bytes
    subtree: HashTree


@dataclass(frozen=True, slots=True)
class Leaf:
    value: bytes


@dataclass(frozen=True, slots=True)
class Pruned:
    digest: bytes

    def __post_init__(self) -> None:
        if len(self.digest) != DIGEST_LENGTH:
            raise ValueError("a pruned subtree is represented by a 32-byte digest")


HashTree: TypeAlias = Empty | Fork | Labeled | Leaf | Pruned


def digest(tree: HashTree) -> bytes:
    """The root hash (spec's ``reconstruct``); iterative so deep trees cannot exhaust the stack."""
    # Post-order evaluation with an explicit stack of (node, children_done).
    results: list[bytes] = []
    stack: list[tuple[HashTree, bool]] = [(tree, False)]
    while stack:
        node, expanded = stack.pop()
        if isinstance(node, Empty):
            results.append(hashlib.sha256(EMPTY_DOMAIN).digest())
        elif isinstance(node, Leaf):
            results.append(hashlib.sha256(LEAF_DOMAIN + node.value).digest())
        elif isinstance(node, Pruned):
            results.append(node.digest)
        elif isinstance(node, Labeled):
            if expanded:
                sub = results.pop()
                results.append(hashlib.sha256(LABELED_DOMAIN + node.label + sub).digest())
            else:
                stack.append((node, True))
                stack.append((node.subtree, False))
        elif expanded:
            right = results.pop()
            left = results.pop()
            results.append(hashlib.sha256(FORK_DOMAIN + left + right).digest())
        else:
            stack.append((node, True))
            stack.append((node.right, False))
            stack.append((node.left, False))
    return results[0]


def to_cbor_value(tree: HashTree) -> list[Any]:
    """The spec's CBOR array form: ``[0]``, ``[1,l,r]``, ``[2,label,t]``, ``[3,v]``, ``[4,h]``."""
    if isinstance(tree, Empty):
        return [0]
    if isinstance(tree, Fork):
        return [1, to_cbor_value(tree.left), to_cbor_value(tree.right)]
    if isinstance(tree, Labeled):
        return [2, tree.label, to_cbor_value(tree.subtree)]
    if isinstance(tree, Leaf):
        return [3, tree.value]
    return [4, tree.digest]


def from_cbor_value(obj: Any) -> HashTree:
    """Parse the CBOR array form (lists or tuples); raises ``ValueError`` on anything else."""
    if (
        not isinstance(obj, (list, tuple))
        or not obj
        or isinstance(obj[0], bool)
        or not isinstance(obj[0], int)
    ):
        raise ValueError(f"not a hash tree node: {obj!r}")
    kind, args = obj[0], obj[1:]
    if kind == 0 and not args:
        return Empty()
    if kind == 1 and len(args) == 2:
        return Fork(from_cbor_value(args[0]), from_cbor_value(args[1]))
    if kind == 2 and len(args) == 2 and isinstance(args[0], bytes):
        return Labeled(args[0], from_cbor_value(args[1]))
    if kind == 3 and len(args) == 1 and isinstance(args[0], bytes):
        return Leaf(args[0])
    if kind == 4 and len(args) == 1 and isinstance(args[0], bytes):
        return Pruned(args[0])
    raise ValueError(f"malformed hash tree node of kind {kind!r}")


def _children(tree: HashTree) -> list[Labeled]:
    """The labeled nodes of one level, flattening its forks (the fork shape carries no meaning)."""
    found: list[Labeled] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Fork):
            stack.append(node.right)
            stack.append(node.left)
        elif isinstance(node, Labeled):
            found.append(node)
    return found


def lookup(tree: HashTree, path: Sequence[bytes]) -> bytes | None:
    """The leaf value at ``path``, or ``None`` if it is absent, pruned, or not a leaf."""
    node = tree
    for label in path:
        match = next((child for child in _children(node) if child.label == label), None)
        if match is None:
            return None
        node = match.subtree
    return node.value if isinstance(node, Leaf) else None


def labeled_tree(children: Mapping[bytes, HashTree | bytes]) -> HashTree:
    """One level of labeled children in bytewise label order over a balanced fork skeleton.

    ``bytes`` values become leaves, so nested state can be written as nested calls. Mapping keys
    are unique, which makes the order strictly increasing as the spec requires.
    """
    items = [
        Labeled(label, Leaf(value) if isinstance(value, bytes) else value)
        for label, value in sorted(children.items(), key=lambda item: item[0])
    ]
    if not items:
        return Empty()
    return _balanced(items, 0, len(items))


def _balanced(items: Sequence[HashTree], start: int, end: int) -> HashTree:
    if end - start == 1:
        return items[start]
    middle = (start + end + 1) // 2
    return Fork(_balanced(items, start, middle), _balanced(items, middle, end))
