"""Docstring parsing for tool and parameter descriptions (Google, reST, NumPy)."""

from __future__ import annotations

from agent_rt.tools.docstrings import Docstring, parse_docstring


def test_empty() -> None:
    assert parse_docstring(None) == Docstring()
    assert parse_docstring("   \n  ") == Docstring()


def test_summary_only_unwraps_lines_and_keeps_paragraphs() -> None:
    doc = """Get the weather
    for a place.

    Second paragraph.
    """
    assert parse_docstring(doc) == Docstring("Get the weather for a place.\n\nSecond paragraph.", {})


def test_google_style() -> None:
    doc = """Fetch things.

    Args:
        city (str): The city
            to look at.
        days: How many days.
        **extra: Ignored.

    Returns:
        value: not a parameter.

    Raises:
        ValueError: never a parameter either.
    """
    parsed = parse_docstring(doc)
    assert parsed.summary == "Fetch things."
    assert parsed.params == {"city": "The city to look at.", "days": "How many days.", "extra": "Ignored."}


def test_rest_style() -> None:
    doc = """Fetch things.

    :param city: The city
        to look at.
    :param int days: How many days.
    :type days: int
    :returns: the things
    :raises ValueError: when unhappy
    """
    parsed = parse_docstring(doc)
    assert parsed.summary == "Fetch things."
    assert parsed.params == {"city": "The city to look at.", "days": "How many days."}


def test_numpy_style() -> None:
    doc = """Fetch things.

    Parameters
    ----------
    city : str
        The city
        to look at.
    lat, lng : float
        Coordinates.

    Returns
    -------
    dict
        Not a parameter.
    """
    parsed = parse_docstring(doc)
    assert parsed.summary == "Fetch things."
    assert parsed.params == {"city": "The city to look at.", "lat": "Coordinates.", "lng": "Coordinates."}


def test_attributes_section_for_classes() -> None:
    doc = """A point.

    Attributes:
        x: Horizontal.
    """
    assert parse_docstring(doc).params == {"x": "Horizontal."}
