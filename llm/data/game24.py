"""Arithmetic target game ("game of 24" family): reach the target using each number once with + - * / ( ).

Difficulty: 1 = two numbers, 2 = three numbers, 3 = four numbers 1..13 with target 24. The verifier parses the
expression with `ast` (numbers and + - * / only), checks the multiset of numbers, and evaluates exactly (Fraction).
"""
from __future__ import annotations

import ast
import itertools
import random
from fractions import Fraction

from llm.data.reasoning import REASONING_SYSTEM, format_answer, parse_answer
from llm.data.types import Example, Verdict

_OPS = ("+", "-", "*", "/")


def _apply(a: Fraction, op: str, b: Fraction) -> Fraction | None:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return None if b == 0 else a / b


def solve(numbers: list[int], target: int) -> tuple[str, list[str]] | None:
    """A solution expression and its step lines ("8 - 2 = 6"), by exhaustive pairwise combination; None if none."""
    items = [(Fraction(n), str(n)) for n in numbers]

    def rec(items: list[tuple[Fraction, str]], steps: list[str]) -> tuple[str, list[str]] | None:
        if len(items) == 1:
            return (items[0][1], steps) if items[0][0] == target else None
        for i, j in itertools.permutations(range(len(items)), 2):
            (a, ea), (b, eb) = items[i], items[j]
            rest = [items[k] for k in range(len(items)) if k not in (i, j)]
            for op in _OPS:
                if op in "+*" and i > j:
                    continue  # commutative: one order is enough
                v = _apply(a, op, b)
                if v is None or v < 0 or v.denominator != 1:
                    continue  # keep intermediate results natural numbers: easier to learn and verify by eye
                expr = f"({ea} {op} {eb})"
                found = rec(rest + [(v, expr)], steps + [f"{a} {op} {b} = {v}"])
                if found:
                    return found
        return None

    found = rec(items, [])
    if found is None:
        return None
    expr, steps = found
    return (expr[1:-1] if expr.startswith("(") and expr.endswith(")") else expr), steps


def generate(rng: random.Random, difficulty: int) -> Example:
    """Draw numbers until the target is reachable; the gold answer is the solver's expression with its steps."""
    if difficulty not in (1, 2, 3):
        raise ValueError(f"difficulty must be 1, 2 or 3, got {difficulty}")
    count = difficulty + 1
    while True:
        numbers = [rng.randint(1, 13 if difficulty == 3 else 12) for _ in range(count)]
        if difficulty == 3:
            target = 24
        else:  # the value of a random valid combination, so every puzzle is solvable
            a, b = numbers[0], numbers[1]
            target_f = _apply(Fraction(a), rng.choice(_OPS), Fraction(b))
            if difficulty == 2 and target_f is not None:
                target_f = _apply(target_f, rng.choice(("+", "-", "*")), Fraction(numbers[2]))
            if target_f is None or target_f.denominator != 1 or not 0 < target_f <= 100:
                continue
            target = int(target_f)
            rng.shuffle(numbers)
        sol = solve(numbers, target)
        if sol:
            break
    expr, steps = sol
    user = f"Use the numbers {', '.join(map(str, numbers))} once each with + - * / to make {target}."
    return Example(task="game24", difficulty=difficulty, system=REASONING_SYSTEM, user=user,
                   answer=format_answer(steps, expr), meta={"numbers": numbers, "target": target})


def _eval(node: ast.AST, used: list[int]) -> Fraction:
    if isinstance(node, ast.Expression):
        return _eval(node.body, used)
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        used.append(node.value)
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        a, b = _eval(node.left, used), _eval(node.right, used)
        op = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}[type(node.op)]
        v = _apply(a, op, b)
        if v is None:
            raise ZeroDivisionError
        return v
    raise ValueError("only integers and + - * / are allowed")


def verify(example: Example, response: str) -> Verdict:
    """Format: think block + answer line; correct: a valid expression using exactly the numbers, equal to target."""
    ans = parse_answer(response)
    if ans is None:
        return Verdict(False, False, "expected <think>...</think> then 'Answer: EXPRESSION'")
    used: list[int] = []
    try:
        value = _eval(ast.parse(ans.replace("×", "*").replace("÷", "/"), mode="eval"), used)
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return Verdict(True, False, f"answer {ans!r} is not an arithmetic expression")
    if sorted(used) != sorted(example.meta["numbers"]):
        return Verdict(True, False, f"answer uses {sorted(used)}, not {sorted(example.meta['numbers'])}")
    if value != example.meta["target"]:
        return Verdict(True, False, f"answer evaluates to {value}, not {example.meta['target']}")
    return Verdict(True, True)
