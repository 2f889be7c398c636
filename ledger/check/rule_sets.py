"""The rule sets of docs/records.md, "Election rules", as data: letters and arithmetic rules in
the specification's wording.

Arithmetic rules are written as docs/records.md writes them (``"e >= c+d+f"``) and compiled once
into coefficient tables, so a rule's text, its check and its message can never disagree. The checks
that use them live in :mod:`ledger.check.rules`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_VOTES = "sum(votes)"
_TOKEN = re.compile(r"\s*(sum\(votes\)|>=|<=|=|[-+()]|[a-z][0-9]*|[0-9]+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """An arithmetic rule over a report's fields: ``sum(coefficient * value) <op> 0``."""

    code: str
    text: str
    hard: bool
    terms: tuple[tuple[str, int], ...]
    op: str
    names: tuple[str, ...]

    def holds(self, fields: Mapping[str, int], votes_total: int) -> bool:
        """True when the rule holds for these fields and this sum of votes."""
        total = 0
        for name, coefficient in self.terms:
            total += coefficient * (votes_total if name == _VOTES else fields[name])
        if self.op == "=":
            return total == 0
        return total >= 0 if self.op == ">=" else total <= 0

    def describe(self, fields: Mapping[str, int], votes_total: int) -> str:
        """The values the rule saw, in the order its text names them."""
        return ", ".join(
            f"{n} = {votes_total if n == _VOTES else fields[n]}" for n in self.names
        )


def compile_rule(code: str, text: str, *, hard: bool) -> Rule:
    """Compile ``"lhs op rhs"`` (names, ``sum(votes)``, ``+``, ``-``, parentheses) into a Rule."""
    tokens = _tokenize(text)
    position = 0
    terms: dict[str, int] = {}
    names: list[str] = []

    def side(sign: int) -> None:
        nonlocal position
        term(sign)
        while position < len(tokens) and tokens[position] in ("+", "-"):
            op = tokens[position]
            position += 1
            term(sign if op == "+" else -sign)

    def term(sign: int) -> None:
        nonlocal position
        if position >= len(tokens):
            raise ValueError(f"rule {text!r}: expression ends early")
        item = tokens[position]
        position += 1
        if item == "(":
            side(sign)
            if position >= len(tokens) or tokens[position] != ")":
                raise ValueError(f"rule {text!r}: missing ')'")
            position += 1
        elif item in ("+", "-", ")", "=", ">=", "<="):
            raise ValueError(f"rule {text!r}: unexpected {item!r}")
        else:
            terms[item] = terms.get(item, 0) + sign
            if item not in names:
                names.append(item)

    side(1)
    if position >= len(tokens) or tokens[position] not in ("=", ">=", "<="):
        raise ValueError(f"rule {text!r}: expected =, >= or <=")
    op = tokens[position]
    position += 1
    side(-1)
    if position != len(tokens):
        raise ValueError(f"rule {text!r}: trailing {tokens[position]!r}")
    return Rule(code=code, text=text, hard=hard, terms=tuple(terms.items()), op=op,
                names=tuple(names))


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None:
            raise ValueError(f"rule {text!r}: cannot read {stripped[position:]!r}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSet:
    """One rule set of docs/records.md, "Election rules": its exact letters and its arithmetic
    rules."""

    name: str
    tag: str
    letters: tuple[str, ...]
    rules: tuple[Rule, ...]

    @property
    def has_b(self) -> bool:
        """Whether reports of this set carry b (voters who came), compared with turnout LT."""
        return "b" in self.letters


def _rule_set(
    name: str, tag: str, letters: str, hard: list[tuple[str, str]], soft: list[tuple[str, str]]
) -> RuleSet:
    rules = [compile_rule(f"PV-{tag}-{c}", t, hard=True) for c, t in hard]
    rules += [compile_rule(f"PV-{tag}-{c}", t, hard=False) for c, t in soft]
    return RuleSet(name=name, tag=tag, letters=tuple(letters.split()), rules=tuple(rules))


_A_GE_B = [(f"A{i}-GE-B{i}", f"a{i} >= b{i}") for i in range(1, 5)]
_CD_SOFT = [("CD-EQ-B", "c + d = b"), ("E-EQ-CDF", "e = c+d+f")]

#: Every rule set by name (docs/records.md, "Election rules"; golden ``rules.json`` holds the same
#: as data).
RULE_SETS: Mapping[str, RuleSet] = {
    s.name: s
    for s in (
        _rule_set("presidential", "PRSD", "a b b1 b2 b3 c d e f", [
            ("A-GE-B1", "a >= b1"), ("B-PARTS", "b = b1+b2+b3"), ("C-LE-B-D", "c <= b - d"),
            ("C-SUM", "c = sum(votes)"), ("E-GE-CDF", "e >= c+d+f"),
        ], _CD_SOFT),
        _rule_set("local", "LOCAL", "a a1 a2 a3 a4 b b1 b2 b3 b4 c d e f", [
            ("A-PARTS", "a = a1+a2+a3+a4"), *_A_GE_B, ("B-PARTS", "b = b1+b2+b3+b4"),
            ("C-LE-B-D", "c <= b - d"), ("C-SUM", "c = sum(votes)"), ("E-GE-CDF", "e >= c+d+f"),
        ], _CD_SOFT),
        _rule_set("parliamentary", "PARL", "a a1 a2 a3 b b1 b2 b3 c d e f g", [
            ("A-PARTS", "a = a1+a2+a3"), *_A_GE_B[:3], ("B-PARTS", "b = b1+b2+b3"),
            ("C-GE-DEFG", "c >= d+e+f+g"), ("E-LE-B-FG", "e <= b-(f+g)"),
            ("E-SUM", "e = sum(votes)"),
        ], [("B-EQ-EFG", "b = e+f+g"), ("C-EQ-DEFG", "c = d+e+f+g")]),
        _rule_set("european", "EUP", "a a1 a2 b b1 b2 b3 c d e f", [
            ("A-PARTS", "a = a1+a2"), *_A_GE_B[:2], ("B-PARTS", "b = b1+b2+b3"),
            ("C-GE-DEF", "c >= d+e+f"), ("E-LE-B-F", "e <= b - f"), ("E-SUM", "e = sum(votes)"),
        ], [("B-EQ-EF", "b = e+f"), ("C-EQ-DEF", "c = d+e+f")]),
        _rule_set("mail", "MAIL", "a b b1 b2 c c1 c2 d d1 d2", [], [
            ("B-PARTS", "b = b1+b2"), ("C-PARTS", "c = c1+c2"), ("D-PARTS", "d = d1+d2"),
            ("D1-SUM", "d1 = sum(votes)"),
        ]),
        _rule_set("referendum", "REF", "1 2 3 4 5 6 7", [("2-PARTS", "2 = 5 + 6 + 7")], []),
    )
}


_LISTS = {"1": "on the permanent list", "2": "on supplementary lists", "3": "at the mobile box"}
_PRESIDENTIAL_LIKE = {
    "a": "registered voters", "b": "voters who came",
    **{f"b{n}": f"voters who came, {where}" for n, where in _LISTS.items()},
    "c": "valid votes", "d": "null votes", "e": "ballots received",
    "f": "ballots unused or cancelled",
}
_PARLIAMENTARY_LIKE = {
    "a": "registered voters", "b": "voters who came",
    **{f"b{n}": f"voters who came, {where}" for n, where in _LISTS.items()},
    "c": "ballots received", "d": "ballots unused or cancelled", "e": "valid votes",
    "f": "null votes", "g": "blank votes",
}
#: What each letter of a rule set counts, in words (docs/records.md, "Letters and rule sets"),
#: for people reading a report; a letter the forms do not name plainly is left out.
FIELD_MEANINGS: Mapping[str, Mapping[str, str]] = {
    "presidential": _PRESIDENTIAL_LIKE,
    "local": {**_PRESIDENTIAL_LIKE, "b4": "voters who came, on the complementary list"},
    "parliamentary": _PARLIAMENTARY_LIKE,
    "european": {k: v for k, v in _PARLIAMENTARY_LIKE.items() if k != "g"},
    "mail": {"d1": "valid votes"},
    "referendum": {"2": "participants", "5": "YES votes", "6": "NO votes", "7": "null votes"},
}
#: What each turnout counter counts, in words.
COUNT_MEANINGS: Mapping[str, str] = {
    "LP": "permanent list", "LS": "supplementary lists", "UM": "mobile box",
    "LC": "complementary list", "LSC": "LSC list", "LT": "total",
}
