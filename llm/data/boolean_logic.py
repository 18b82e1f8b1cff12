"""Boolean logic: "A is true, B is false. Is (A and not B) or C true or false?"

Difficulty 1/2/3 = 2 / 3-4 / 5-6 operands (3 always has a `not` and nested brackets). The gold steps evaluate
the innermost sub-expressions first, one operator a line, and state a variable's value in the line that uses it
before computing ("E or false = true or false = true", "not D = not false = true"); the verifier re-parses the
question's expression and evaluates it itself, so it never trusts the generator's answer.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace

from llm.data.reasoning import REASONING_SYSTEM, format_answer, parse_answer
from llm.data.types import Example, Verdict

_LETTERS = "ABCDEFGH"
_OPERANDS = {1: (2, 2), 2: (3, 4), 3: (5, 6)}
_NOT_P = {1: 0.25, 2: 0.25, 3: 0.3}
_TOKEN = re.compile(r"\s*(\(|\)|and\b|or\b|not\b|[A-Z])")


@dataclass(frozen=True)
class Node:
    """An expression node: a variable (`var`), or `op` in {'and', 'or'} over two children; `neg` negates it."""

    var: str = ""
    op: str = ""
    left: Node | None = None
    right: Node | None = None
    neg: bool = False


def _word(v: bool) -> str:
    return "true" if v else "false"


def _tree(rng: random.Random, names: list[str], not_p: float) -> Node:
    """A random binary tree over `names` (one leaf each, in order), each node negated with chance `not_p`."""
    neg = rng.random() < not_p
    if len(names) == 1:
        return Node(var=names[0], neg=neg)
    k = rng.randint(1, len(names) - 1)
    return Node(op=rng.choice(("and", "or")), left=_tree(rng, names[:k], not_p),
                right=_tree(rng, names[k:], not_p), neg=neg)


def render(node: Node, top: bool = True) -> str:
    """The expression text, fully bracketed below the top level so no precedence rule is needed."""
    if node.var:
        body = node.var
    else:
        assert node.left is not None and node.right is not None
        body = f"{render(node.left, False)} {node.op} {render(node.right, False)}"
        if not top or node.neg:
            body = f"({body})"
    return f"not {body}" if node.neg else body


def evaluate(node: Node, values: dict[str, bool], steps: list[str] | None = None) -> bool:
    """The node's truth value; appends one step line per operator, innermost first, when `steps` is given."""
    return _eval_steps(node, values, [] if steps is None else steps)[0]


def _line(expr: str, substituted: str, v: bool) -> str:
    """'E or false = true or false = true' when a variable was substituted, else 'true or false = true'."""
    return f"{expr} = {_word(v)}" if expr == substituted else f"{expr} = {substituted} = {_word(v)}"


def _eval_steps(node: Node, values: dict[str, bool], steps: list[str]) -> tuple[bool, str]:
    """(value, how a parent names it): a bare variable keeps its name, anything computed becomes its value. Each
    step line names its operands as the parent sees them and, where one is a variable, restates it with the
    variable's value first, so no line needs a lookup and an operation at once."""
    if node.var:
        v, name = values[node.var], node.var
    else:
        assert node.left is not None and node.right is not None
        a, an = _eval_steps(node.left, values, steps)
        b, bn = _eval_steps(node.right, values, steps)
        v = (a and b) if node.op == "and" else (a or b)
        steps.append(_line(f"{an} {node.op} {bn}", f"{_word(a)} {node.op} {_word(b)}", v))
        name = _word(v)
    if node.neg:
        steps.append(_line(f"not {name}", f"not {_word(v)}", not v))
        return not v, _word(not v)
    return v, name


def parse(text: str) -> Node:
    """Parse an expression of variables A-Z, and/or/not and brackets; and/or must be bracketed when mixed."""
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"unexpected text at {text[pos:]!r}")
        tokens.append(m.group(1))
        pos = m.end()
    node, rest = _parse_binary(tokens)
    if rest:
        raise ValueError(f"trailing tokens {rest}")
    return node


def _parse_binary(tokens: list[str]) -> tuple[Node, list[str]]:
    left, tokens = _parse_unary(tokens)
    while tokens and tokens[0] in ("and", "or"):
        op = tokens[0]
        right, tokens = _parse_unary(tokens[1:])
        left = Node(op=op, left=left, right=right)
        if tokens and tokens[0] in ("and", "or") and tokens[0] != op:
            raise ValueError("mixed and/or without brackets")
    return left, tokens


def _parse_unary(tokens: list[str]) -> tuple[Node, list[str]]:
    if not tokens:
        raise ValueError("expression ends early")
    head, rest = tokens[0], tokens[1:]
    if head == "not":
        inner, rest = _parse_unary(rest)
        return replace(inner, neg=not inner.neg), rest
    if head == "(":
        inner, rest = _parse_binary(rest)
        if not rest or rest[0] != ")":
            raise ValueError("missing ')'")
        return inner, rest[1:]
    if len(head) == 1 and head.isupper():
        return Node(var=head), rest
    raise ValueError(f"unexpected token {head!r}")


def _has_not(node: Node | None) -> bool:
    return node is not None and (node.neg or _has_not(node.left) or _has_not(node.right))


def generate(rng: random.Random, difficulty: int) -> Example:
    """Draw a tree and truth values, the answer true or false with even odds; gold = one step per operator."""
    if difficulty not in _OPERANDS:
        raise ValueError(f"difficulty must be 1, 2 or 3, got {difficulty}")
    want = rng.random() < 0.5
    while True:
        n = rng.randint(*_OPERANDS[difficulty])
        names = rng.sample(_LETTERS, n)
        tree = _tree(rng, names, _NOT_P[difficulty])
        if difficulty == 3 and not _has_not(tree):
            continue
        values = {k: rng.random() < 0.5 for k in names}
        steps: list[str] = []
        if evaluate(tree, values, steps) == want:
            break
    expr = render(tree)
    facts = ", ".join(f"{k} is {_word(values[k])}" for k in sorted(names))
    user = f"{facts}. Is {expr} true or false?"
    return Example(task="boolean_logic", difficulty=difficulty, system=REASONING_SYSTEM, user=user,
                   answer=format_answer(steps, _word(want)),
                   meta={"expr": expr, "values": {k: values[k] for k in sorted(names)}})


def verify(example: Example, response: str) -> Verdict:
    """Format: think + answer line; correct: 'true' or 'false' (any case, a final period allowed), as evaluated."""
    ans = parse_answer(response)
    if ans is None:
        return Verdict(False, False, "expected <think>...</think> then 'Answer: true' or 'Answer: false'")
    got = ans.strip().rstrip(".").strip().lower()
    if got not in ("true", "false"):
        return Verdict(True, False, f"answer {ans!r} is not true or false")
    want = evaluate(parse(example.meta["expr"]), example.meta["values"])
    if (got == "true") != want:
        return Verdict(True, False, f"answer {got} but the expression is {_word(want)}")
    return Verdict(True, True)
