"""Property-based fuzzing of every manifest reader and of `audiobatch validate`: whatever the
bytes, a manifest is valid or refused with located problems (exit 2), never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from audiobatch.cli.main import main
from audiobatch.errors import ManifestError, Problem
from audiobatch.manifest import load_manifests

HOST = "JBFqnCBsd6RMkjVDRZzb"
FUZZ = settings(
    max_examples=100,
    deadline=None,  # the budgets are enforced by the readers' caps, not timed here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["dialogue", "music", "stems", HOST, "host", "a", "x.mp3", "s3://b/k"]),
)
keys = st.one_of(
    st.sampled_from(["batch", "jobs", "id", "kind", "inputs", "voice", "text", "source", "from"]),
    st.sampled_from(["prompt", "music_length_ms", "defaults", "voices", "seed", "part_chars"]),
    st.text(max_size=10),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=30,
)
manifests = st.fixed_dictionaries(
    {"batch": values | st.just("fuzz"), "jobs": st.lists(values, max_size=5)},
    optional={"voices": values, "defaults": values},
)
noise = st.lists(
    st.sampled_from(['"', "'", ",", "\n", "\r", "[", "]", "{", "}", ":", "&a ", "*a", "<<: ", "- "])
    | st.sampled_from(["\t", "#", "!!int ", "!!binary ", "\\", "\x00", "\ufeff", "9" * 20])
    | st.text(max_size=8),
    max_size=60,
).map("".join)


def mutated(texts: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """Well-formed texts, the same cut or spliced with noise, and arbitrary bytes."""
    spliced = st.tuples(texts, st.integers(0, 1000), noise).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
    )
    return st.one_of(
        texts.map(str.encode), spliced.map(str.encode), noise.map(str.encode), st.binary()
    )


def yaml_texts() -> st.SearchStrategy[str]:
    return manifests.map(lambda m: yaml.safe_dump(m, allow_unicode=True))


def json_texts() -> st.SearchStrategy[str]:
    return manifests.map(lambda m: json.dumps(m, indent=1))


def jsonl_texts() -> st.SearchStrategy[str]:
    return st.lists(values, max_size=8).map(lambda jobs: "\n".join(json.dumps(j) for j in jobs))


def csv_texts() -> st.SearchStrategy[str]:
    cell = st.text(max_size=12) | st.sampled_from(["ep1", "host", HOST, '"quoted, ""cell"""', ""])
    rows = st.lists(st.lists(cell, min_size=1, max_size=4).map(",".join), max_size=8)
    return rows.map(lambda body: "\n".join(["episode,voice,text", *body]))


def refused_with_lines(load: Callable[[], object]) -> list[Problem]:
    """Load; a refusal must locate each of its problems by line."""
    try:
        load()
    except ManifestError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.line is not None and problem.line >= 1, problem
        return exc.problems
    return []


def check_reader(suffix: str, raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(raw)
        refused_with_lines(lambda: load_manifests([path], voices={"host": HOST}, batch="fuzz"))


@FUZZ
@given(mutated(yaml_texts()))
@example(b"!!binary :")  # a key that is bytes, not text
@example(b"jobs:\n- {id: a, ? !!binary : x}\n")
def test_any_yaml_is_valid_or_refused_at_its_lines(raw: bytes) -> None:
    check_reader(".yaml", raw)


@FUZZ
@given(mutated(json_texts()))
def test_any_json_is_valid_or_refused_at_its_lines(raw: bytes) -> None:
    check_reader(".json", raw)


@FUZZ
@given(mutated(jsonl_texts()))
def test_any_jsonl_is_valid_or_refused_at_its_lines(raw: bytes) -> None:
    check_reader(".jsonl", raw)


@FUZZ
@given(mutated(csv_texts()))
def test_any_csv_is_valid_or_refused_at_its_lines(raw: bytes) -> None:
    check_reader(".csv", raw)


def validate(path: Path) -> tuple[int, str]:
    """`audiobatch validate PATH` through the command's entry point: exit code and stderr."""
    argv, sys.argv = sys.argv, ["audiobatch", "validate", str(path)]
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    return code, err.getvalue()


@settings(FUZZ, max_examples=40)
@given(
    st.sampled_from([".yaml", ".json", ".jsonl", ".csv"]),
    st.one_of(mutated(yaml_texts()), mutated(json_texts()), mutated(csv_texts())),
)
def test_validate_exits_0_or_2_with_located_problems_never_a_traceback(
    suffix: str, raw: bytes
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(raw)
        code, err = validate(path)
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith("invalid manifest:")
        assert re.search(rf"^  {re.escape(str(path))}:\d+: ", err, re.MULTILINE), err
