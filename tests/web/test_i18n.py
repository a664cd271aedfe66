"""The German catalogue is complete, and the compiled .mo matches the .po."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pagedesk.web

LOCALE = Path(pagedesk.web.__file__).parent / "locale" / "de" / "LC_MESSAGES"
_ENTRY = re.compile(r'^msgid ((?:".*"\n)+)msgstr ((?:".*"\n?)+)', re.M)


def _unquote(block: str) -> str:
    text = "".join(re.findall(r'"(.*)"', block))
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m[1], m[0]), text)


def _po_entries() -> dict[str, str]:
    source = (LOCALE / "django.po").read_text(encoding="utf-8")
    return {_unquote(m[1]): _unquote(m[2]) for m in _ENTRY.finditer(source) if _unquote(m[1])}


def test_every_string_has_a_german_translation() -> None:
    entries = _po_entries()
    assert len(entries) > 100
    assert [msgid for msgid, msgstr in entries.items() if not msgstr] == []
    assert "#, fuzzy" not in (LOCALE / "django.po").read_text(encoding="utf-8")


def test_the_compiled_catalogue_matches_the_source() -> None:
    with (LOCALE / "django.mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    stale = {
        msgid: msgstr
        for msgid, msgstr in _po_entries().items()
        if catalogue.gettext(msgid) != msgstr
    }
    assert stale == {}, (
        "in src/pagedesk/web run: ../../../.venv/bin/python -P -m pagedesk.cli manage "
        "compilemessages (-P: this folder has a selectors.py)"
    )
