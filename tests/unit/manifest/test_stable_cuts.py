"""Episodes are cut by content: any episode is covered within bounds, an edit of one turn changes
at most two parts, and every part carries the episode's seed and request fields."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from audiobatch.manifest import DialogueInput, DialogueJob
from audiobatch.manifest.dialogue import DialogueSettings
from audiobatch.manifest.episodes import (
    Part,
    cut_parts,
    episode_parts,
    episode_seed,
    min_part_chars,
    part_job,
    stretches,
)

VOICES = [f"Voice{n:015d}" for n in range(4)]
WORDS = ["batch", "render", "voice", "episode", "part", "request", "seed", "line", "turn"]
PROPERTIES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# a turn as (voice, characters, salt): its text is sentences of words drawn with the salt
turn_specs = st.tuples(st.integers(0, len(VOICES) - 1), st.integers(1, 400), st.integers(0, 10**9))


def text_of(chars: int, salt: int) -> str:
    draw = random.Random(salt)
    words: list[str] = []
    while sum(len(word) + 1 for word in words) < chars:
        word = draw.choice(WORDS)
        words.append(word + "." if draw.random() < 0.15 else word)
    return " ".join(words)


def turns_of(specs: list[tuple[int, int, int]]) -> list[DialogueInput]:
    return [DialogueInput(voice=VOICES[v], text=text_of(n, salt)) for v, n, salt in specs]


def fits_one_part(job: DialogueJob, part_chars: int) -> bool:
    """Whether every stretch between two cuts placed by content fits one part."""
    return all(stretch.chars <= part_chars for stretch in stretches(job.inputs, part_chars))


def requests(job: DialogueJob, parts: list[Part]) -> Counter[str]:
    """The request of each part, as the API sees it (no turn numbers, no part numbers)."""
    return Counter(part_job(job, part).model_dump_json() for part in parts)


@PROPERTIES
@given(
    specs=st.lists(turn_specs, min_size=1, max_size=60),
    long_turns=st.lists(st.tuples(st.integers(0, 59), st.integers(400, 6000)), max_size=3),
    part_chars=st.integers(100, 5000),
)
def test_any_episode_is_covered_in_order_exactly_once_by_parts_within_bounds(
    specs: list[tuple[int, int, int]], long_turns: list[tuple[int, int]], part_chars: int
) -> None:
    for index, chars in long_turns:  # some turns longer than a part: cut by sentences and words
        if index < len(specs):
            specs[index] = (specs[index][0], chars, specs[index][2])
    inputs = turns_of(specs)
    parts = cut_parts(inputs, part_chars)
    lines = [line for part in parts for line in part.lines]
    assert [line.turn for line in lines] == sorted(line.turn for line in lines)
    for turn, given_line in enumerate(inputs):
        pieces = [line for line in lines if line.turn == turn]
        assert " ".join(piece.text for piece in pieces) == given_line.text
        assert {piece.voice for piece in pieces} == {given_line.voice}
    assert all(0 < part.chars <= part_chars for part in parts)
    least = min_part_chars(part_chars)
    for before, after in itertools.pairwise(parts):
        # a short part is one the next line would have overfilled
        assert before.chars >= least or before.chars + len(after.lines[0].text) > part_chars
    if len(parts) > 1:  # a short last part did not fit with the one before it
        assert parts[-1].chars >= least or parts[-2].chars + parts[-1].chars > part_chars


@PROPERTIES
@given(
    specs=st.lists(
        st.tuples(st.integers(0, len(VOICES) - 1), st.integers(60, 300), st.integers(0, 10**9)),
        min_size=180,
        max_size=200,
    ),
    where=st.floats(0, 1, exclude_max=True),
    edit=st.sampled_from(["rewrite", "insert", "delete"]),
    new_turn=turn_specs,
)
def test_editing_inserting_or_deleting_one_turn_changes_at_most_two_parts(
    specs: list[tuple[int, int, int]], where: float, edit: str, new_turn: tuple[int, int, int]
) -> None:
    part_chars = 2000
    job = DialogueJob(id="ep", inputs=turns_of(specs), part_chars=part_chars)
    index = int(where * len(specs))
    edited = list(specs)
    if edit == "rewrite":
        edited[index] = new_turn
    elif edit == "insert":
        edited.insert(index, new_turn)
    else:
        del edited[index]
    changed = job.model_copy(update={"inputs": turns_of(edited)})
    # the promise holds where cuts are placed by content; a stretch without one for more than
    # part_chars is packed by size, and the test leaves those rare episodes out
    assume(all(fits_one_part(episode, part_chars) for episode in (job, changed)))
    before, after = episode_parts(job), episode_parts(changed)
    assume(before is not None and after is not None and len(before) >= 30)
    assert before is not None and after is not None
    new_requests = requests(changed, after) - requests(job, before)
    assert sum(new_requests.values()) <= 2


def test_a_turn_inserted_early_in_a_long_episode_leaves_every_later_part_as_it_was() -> None:
    specs = [(n % 4, 120 + (n * 37) % 200, n) for n in range(200)]
    job = DialogueJob(id="ep", inputs=turns_of(specs), part_chars=2000)
    longer = list(specs)
    longer.insert(3, (3, 300, 7))  # counting from the start would move every later cut
    edited = job.model_copy(update={"inputs": turns_of(longer)})
    before, after = episode_parts(job), episode_parts(edited)
    assert before is not None and after is not None and len(before) >= 30
    assert sum((requests(edited, after) - requests(job, before)).values()) <= 2
    assert requests(edited, after[-80:]) == requests(job, before[-80:])  # all but the first few


def test_every_part_carries_the_episodes_seed_and_request_fields() -> None:
    inputs = turns_of([(n % 4, 300, n) for n in range(40)])
    fields: dict[str, Any] = {
        "model_id": "eleven_v3",
        "language_code": "en",
        "settings": DialogueSettings(stability=0.3),
        "part_chars": 1000,
    }
    job = DialogueJob(id="ep", inputs=inputs, seed=42, **fields)
    parts = episode_parts(job)
    assert parts is not None and len(parts) > 3
    jobs = [part_job(job, part) for part in parts]
    assert all(j.seed == 42 for j in jobs)
    assert all(
        j.model_dump(exclude={"inputs"}) == jobs[0].model_dump(exclude={"inputs"}) for j in jobs
    )
    assert (jobs[0].model_id, jobs[0].settings) == ("eleven_v3", DialogueSettings(stability=0.3))


def test_an_episode_without_a_seed_gets_one_from_its_id_the_same_in_every_batch() -> None:
    inputs = turns_of([(n % 4, 300, n) for n in range(40)])
    job = DialogueJob(id="pilot", inputs=inputs, part_chars=1000)
    parts = episode_parts(job)
    assert parts is not None
    seeds = {part_job(job, part).seed for part in parts}
    assert seeds == {episode_seed(job)} and 0 <= episode_seed(job) <= 4_294_967_295
    again = DialogueJob(id="pilot", inputs=inputs[:5], part_chars=1000)  # another batch, edited
    assert episode_seed(again) == episode_seed(job)
    other = job.model_copy(update={"id": "finale"})
    assert episode_seed(other) != episode_seed(job)
