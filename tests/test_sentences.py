"""kb's one sentence splitter (concept quotes, figures, lint, descriptions and slides share it)."""

from kb.core.concepts import sentences
from kb.core.pages import first_sentence
from kb.core.sentences import split


def test_abbreviations_initials_and_references_do_not_end_a_sentence():
    assert split("Use a starter, e.g. Lactobacillus plantarum. It works. See Fig. 3 for more.") == [
        "Use a starter, e.g. Lactobacillus plantarum.", "It works.", "See Fig. 3 for more."]
    assert split("J. R. R. Tolkien wrote it. Smith et al. Found that. Written by A. Smith. Fine.") == [
        "J. R. R. Tolkien wrote it.", "Smith et al. Found that.", "Written by A. Smith.", "Fine."]


def test_ordinary_ends_still_split():
    assert split("The answer is no. Then 2.5 kg. Is it? Yes! \"Quoted.\" From B / W. However, it is.") == [
        "The answer is no.", "Then 2.5 kg.", "Is it?", "Yes!", "\"Quoted.\"", "From B / W.", "However, it is."]
    assert split("lower case after a stop. does not split") == ["lower case after a stop. does not split"]


def test_every_user_splits_the_same_way():
    text = "Brine the cabbage, e.g. Napa cabbage, overnight in salt. Then rinse it well before mixing."
    assert sentences(text) == split(text)
    assert first_sentence(text) == "Brine the cabbage, e.g. Napa cabbage, overnight in salt."
