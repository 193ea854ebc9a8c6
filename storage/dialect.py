"""Every difference between SQLite and PostgreSQL, in one place: the rest of storage writes SQLite's SQL.

Queries and migrations are written once, in the SQLite style the project always used (`?` and `:name`
parameters, `INSERT OR IGNORE`, `ON CONFLICT ... DO UPDATE SET col = excluded.col`, `MAX(a, b)`, `INTEGER`,
`REAL`, `BLOB`). `POSTGRES.translate` turns such a statement into PostgreSQL's form:

- parameters `?` and `:name` become `%s` and `%(name)s` (and a literal `%` becomes `%%`);
- `INSERT OR IGNORE INTO ...` becomes `INSERT INTO ... ON CONFLICT DO NOTHING`;
- in `ON CONFLICT ... DO UPDATE`, a bare column (the stored row's value) is named with its table, since
  PostgreSQL calls it ambiguous beside `excluded`;
- the scalar `MAX(a, b)` / `MIN(a, b)` become `GREATEST` / `LEAST`; `IFNULL` becomes `COALESCE`, `LIKE` becomes
  `ILIKE` (SQLite's LIKE ignores case);
- types: `INTEGER` is 64-bit in SQLite, so `BIGINT` (a single `INTEGER PRIMARY KEY` numbers itself, as SQLite's
  rowid does); `REAL` is `DOUBLE PRECISION`; `BLOB` is `BYTEA`; `WITHOUT ROWID` goes; `unixepoch()` is the epoch.

What can't be carried is refused with a clear error (`INSERT OR REPLACE`, `UPDATE OR IGNORE`, `PRAGMA`): write
the portable form instead (ON CONFLICT DO UPDATE; UPDATE ... WHERE NOT EXISTS). Other rules for portable SQL:
`SUM(CASE WHEN ... THEN 1 ELSE 0 END)` rather than `SUM(a = b)`; every selected column grouped or aggregated;
JSON handled in Python; keys (storage/keys.py) computed in Python before they are stored, never in SQL.
The schema version lives in `PRAGMA user_version` on SQLite and in a `schema_version` table on PostgreSQL.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# One token: a quoted string or name, a comment, a word, a parameter, or any other single character.
_TOKEN = re.compile(r"""
    (?P<str>'(?:[^']|'')*')
  | (?P<qname>"(?:[^"]|"")*")
  | (?P<comment>--[^\n]*)
  | (?P<ws>\s+)
  | (?P<param>\?|(?<!:):[A-Za-z_][A-Za-z0-9_]*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<num>[0-9]+(?:\.[0-9]*)?)
  | (?P<op>::|\|\||!=|<>|>=|<=|.)
""", re.VERBOSE | re.DOTALL)

# Words after DO UPDATE SET that are not columns of the stored row.
_NOT_COLUMNS = frozenset({
    "and", "or", "not", "null", "is", "in", "case", "when", "then", "else", "end", "like", "ilike", "glob", "true",
    "false", "where", "set", "between", "exists", "select", "from", "as", "distinct", "cast", "integer", "bigint",
    "text", "real", "double", "precision", "numeric", "excluded", "current_timestamp", "escape", "returning",
})

_TYPES = {"integer": "BIGINT", "real": "DOUBLE PRECISION", "blob": "BYTEA"}
_RENAMED_FUNCTIONS = {"ifnull": "COALESCE", "instr": "STRPOS", "group_concat": "STRING_AGG"}


class UnportableSQL(ValueError):
    """A statement uses SQLite syntax with no PostgreSQL form: write the portable form (see storage/dialect.py)."""


@dataclass
class _Tok:
    kind: str
    text: str

    @property
    def low(self) -> str:
        return self.text.lower()


def _tokens(sql: str) -> list[_Tok]:
    return [_Tok(m.lastgroup or "op", m.group()) for m in _TOKEN.finditer(sql)]


def _next(toks: list[_Tok], i: int) -> int:
    """Index of the first token after `i` that is not space or a comment (len(toks) at the end)."""
    i += 1
    while i < len(toks) and toks[i].kind in ("ws", "comment"):
        i += 1
    return i


def _prev(toks: list[_Tok], i: int) -> int:
    i -= 1
    while i >= 0 and toks[i].kind in ("ws", "comment"):
        i -= 1
    return i


def _is_word(toks: list[_Tok], i: int, *words: str) -> bool:
    return 0 <= i < len(toks) and toks[i].kind == "word" and toks[i].low in words


def _closing(toks: list[_Tok], i: int) -> int:
    """Index of the ")" matching the "(" at `i`."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].text == "(":
            depth += 1
        elif toks[j].text == ")":
            depth -= 1
            if depth == 0:
                return j
    raise UnportableSQL("unbalanced parentheses")


def _has_top_level_comma(toks: list[_Tok], start: int, end: int) -> bool:
    depth = 0
    for j in range(start + 1, end):
        if toks[j].text == "(":
            depth += 1
        elif toks[j].text == ")":
            depth -= 1
        elif toks[j].text == "," and depth == 0:
            return True
    return False


def _refuse_unportable(toks: list[_Tok]) -> None:
    first = _next(toks, -1)
    if _is_word(toks, first, "pragma"):
        raise UnportableSQL("PRAGMA is SQLite's own: ask the Database (schema_version) instead")
    for i, tok in enumerate(toks):
        if tok.kind == "word" and tok.low == "or" and _is_word(toks, _prev(toks, i), "insert", "update"):
            what = toks[_next(toks, i)].low
            if not (toks[_prev(toks, i)].low == "insert" and what == "ignore"):
                raise UnportableSQL(f"{toks[_prev(toks, i)].text.upper()} OR {what.upper()} has no PostgreSQL form: "
                                    "use ON CONFLICT ... DO UPDATE, or UPDATE ... WHERE NOT EXISTS")


def _insert_or_ignore(toks: list[_Tok]) -> list[_Tok]:
    """INSERT OR IGNORE INTO ... -> INSERT INTO ... ON CONFLICT DO NOTHING (before any RETURNING)."""
    first = _next(toks, -1)
    if not (_is_word(toks, first, "insert") and _is_word(toks, _next(toks, first), "or")):
        return toks
    or_at = _next(toks, first)
    ignore_at = _next(toks, or_at)
    toks = toks[:first + 1] + toks[ignore_at + 1:]
    depth, at = 0, len(toks)
    for j, tok in enumerate(toks):
        depth += tok.text == "("
        depth -= tok.text == ")"
        if depth == 0 and tok.kind == "word" and tok.low == "returning":
            at = j
            break
    while at > 0 and (toks[at - 1].kind == "ws" or toks[at - 1].text == ";"):
        at -= 1
    return [*toks[:at], _Tok("ws", " "), _Tok("word", "ON CONFLICT DO NOTHING"), *toks[at:]]


def _insert_target(toks: list[_Tok]) -> str | None:
    """The table (or its alias) an INSERT writes to."""
    first = _next(toks, -1)
    if not _is_word(toks, first, "insert"):
        return None
    i = _next(toks, first)
    while i < len(toks) and not _is_word(toks, i, "into"):
        i = _next(toks, i)
    name_at = _next(toks, i)
    if name_at >= len(toks):
        return None
    after = _next(toks, name_at)
    if _is_word(toks, after, "as"):
        return toks[_next(toks, after)].text
    return toks[name_at].text


def _qualify_upsert_columns(toks: list[_Tok]) -> None:
    """In ON CONFLICT ... DO UPDATE SET ..., name the stored row's bare columns with their table."""
    table = _insert_target(toks)
    start = None
    for i, tok in enumerate(toks):
        if tok.kind == "word" and tok.low == "set" and _is_word(toks, _prev(toks, i), "update") \
                and _is_word(toks, _prev(toks, _prev(toks, i)), "do"):
            start = i
            break
    if table is None or start is None:
        return
    depth, assignment_target, in_where = 0, True, False
    subqueries: list[bool] = []
    for i in range(start + 1, len(toks)):
        tok = toks[i]
        if tok.text == "(":
            subqueries.append(_is_word(toks, _next(toks, i), "select"))
            depth += 1
        elif tok.text == ")":
            subqueries.pop()
            depth -= 1
        elif tok.text == "," and depth == 0 and not in_where:
            assignment_target = True
        elif tok.kind == "word":
            if depth == 0 and tok.low == "where":
                in_where = True
            elif depth == 0 and tok.low == "returning":
                return
            if assignment_target and depth == 0 and not in_where:
                assignment_target = False
                continue
            if any(subqueries) or tok.low in _NOT_COLUMNS:
                continue
            before, after = _prev(toks, i), _next(toks, i)
            if (before >= 0 and toks[before].text == ".") or (after < len(toks) and toks[after].text in (".", "(")):
                continue
            tok.text = f"{table}.{tok.text}"


def _rewrite_words(toks: list[_Tok]) -> None:
    """Types, scalar MAX/MIN, renamed functions, LIKE, WITHOUT ROWID, unixepoch()."""
    for i, tok in enumerate(toks):
        if tok.kind != "word":
            continue
        low = tok.low
        after = _next(toks, i)
        call = after < len(toks) and toks[after].text == "("
        if low in _TYPES and not call and not (_prev(toks, i) >= 0 and toks[_prev(toks, i)].text == "."):
            primary = _is_word(toks, after, "primary")
            if low == "integer" and primary and _is_one_column_key(toks, i):
                tok.text = "BIGINT GENERATED BY DEFAULT AS IDENTITY"
            else:
                tok.text = _TYPES[low]
        elif low in ("max", "min") and call and _has_top_level_comma(toks, after, _closing(toks, after)):
            tok.text = "GREATEST" if low == "max" else "LEAST"
        elif low in _RENAMED_FUNCTIONS and call:
            tok.text = _RENAMED_FUNCTIONS[low]
        elif low == "like":
            tok.text = "ILIKE"
        elif low == "unixepoch" and call:
            close = _closing(toks, after)
            tok.text = "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)"
            for j in range(after, close + 1):
                toks[j].text = ""
        elif low == "without" and _is_word(toks, after, "rowid"):
            tok.text = ""
            toks[after].text = ""


def _is_one_column_key(toks: list[_Tok], i: int) -> bool:
    """`col INTEGER PRIMARY KEY` inside CREATE TABLE: SQLite's rowid, which numbers new rows by itself."""
    return any(_is_word(toks, j, "create") for j in range(len(toks))) and any(
        _is_word(toks, j, "table") for j in range(len(toks)))


def _render(toks: list[_Tok], numbered: bool = False) -> str:
    """Join the tokens with PostgreSQL's parameters; a literal % is doubled (psycopg reads % as a parameter).
    `numbered`: parameters as $1, $2... (for PREPARE), where only `?` parameters can be numbered."""
    out: list[str] = []
    count = 0
    for tok in toks:
        if tok.kind == "param" and numbered:
            if tok.text != "?":
                raise UnportableSQL(f"a prepared statement takes ? parameters, not {tok.text}")
            count += 1
            out.append(f"${count}")
        elif tok.kind == "param":
            out.append("%s" if tok.text == "?" else f"%({tok.text[1:]})s")
        else:
            out.append(tok.text.replace("%", "%%"))
    return "".join(out)


class SqliteOnly(str):
    """A migration statement that only rewrites rows stored before PostgreSQL support (e.g. old keys).

    A PostgreSQL database is always made new at the newest version, or filled by `python -m database copy` from a
    SQLite file already brought up to date, so there it has no rows to rewrite and is skipped.
    """


class PostgresOnly(str):
    """A migration statement for PostgreSQL's own storage (e.g. which columns an index carries), with nothing to do on
    SQLite, which stores the table differently."""


class Dialect:
    """SQLite: the SQL as written."""

    name = "sqlite"

    def translate(self, sql: str) -> str:
        return sql

    def runs(self, statement: str) -> bool:
        """Whether a migration statement applies to this kind of database."""
        return not isinstance(statement, PostgresOnly)

    def year_of_ms(self, column: str) -> str:
        """SQL for the UTC year of a time in milliseconds since 1970."""
        return f"CAST(strftime('%Y', {column} / 1000, 'unixepoch') AS INTEGER)"

    def month_of_ms(self, column: str) -> str:
        """SQL for the UTC month (1..12) of a time in milliseconds since 1970."""
        return f"CAST(strftime('%m', {column} / 1000, 'unixepoch') AS INTEGER)"

    def join_one(self, table: str, alias: str, key: str, value: str) -> str:
        """Join each row so far to the row of `table` (as `alias`) whose primary key `key` equals `value`; a row with
        no match goes, as with JOIN. `table` and `key` are fixed names, never input."""
        return f"JOIN {table} {alias} ON {alias}.{key} = {value}"


class PostgresDialect(Dialect):
    name = "postgresql"

    def translate(self, sql: str) -> str:
        return _translate(sql)

    def numbered(self, sql: str) -> str:
        """`translate`, with $1, $2... for the `?` parameters: the body of a PREPARE."""
        return _translate(sql, True)

    def runs(self, statement: str) -> bool:
        return not isinstance(statement, SqliteOnly)

    def year_of_ms(self, column: str) -> str:
        return f"CAST(EXTRACT(YEAR FROM to_timestamp({column} / 1000) AT TIME ZONE 'UTC') AS INTEGER)"

    def month_of_ms(self, column: str) -> str:
        return f"CAST(EXTRACT(MONTH FROM to_timestamp({column} / 1000) AT TIME ZONE 'UTC') AS INTEGER)"

    def join_one(self, table: str, alias: str, key: str, value: str) -> str:
        # One index look-up per row, whatever the planner guesses. Among many members it guesses a member's rows too
        # many (its sample sees few of each member), and then hashes the whole catalogue for every profile: 10 ms
        # a read among 100,000 members. OFFSET 0 keeps the subquery from being folded back into a plain join.
        return f"CROSS JOIN LATERAL (SELECT * FROM {table} WHERE {key} = {value} OFFSET 0) {alias}"


@functools.lru_cache(maxsize=4096)
def _translate(sql: str, numbered: bool = False) -> str:
    toks = _tokens(sql)
    _refuse_unportable(toks)
    toks = _insert_or_ignore(toks)
    _qualify_upsert_columns(toks)
    _rewrite_words(toks)
    return _render(toks, numbered)


SQLITE = Dialect()
POSTGRES = PostgresDialect()


def is_postgres_url(target: object) -> bool:
    """Whether a database setting names a PostgreSQL server rather than a SQLite file."""
    return isinstance(target, str) and target.split(":", 1)[0].lower() in ("postgresql", "postgres")
