"""Every catalogue key exists in every language, as the same kind of value with the same blanks."""

from __future__ import annotations

import string
from datetime import date
from pathlib import Path

import pytest

from bot import i18n
from bot.i18n import DEFAULT_LANG, LANGS, catalogue, format_day

OTHERS = [lang for lang in LANGS if lang != DEFAULT_LANG]


def placeholders(text: str) -> set[str]:
    """The {names} a text expects."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("lang", OTHERS)
def test_every_key_exists_in_both_catalogues(lang: str) -> None:
    first, other = catalogue(DEFAULT_LANG), catalogue(lang)
    assert sorted(set(first) - set(other)) == [], f"missing in {lang}.toml"
    assert sorted(set(other) - set(first)) == [], f"missing in {DEFAULT_LANG}.toml"


@pytest.mark.parametrize("lang", OTHERS)
def test_each_pair_has_the_same_kind_and_the_same_placeholders(lang: str) -> None:
    first, other = catalogue(DEFAULT_LANG), catalogue(lang)
    for key in sorted(set(first) & set(other)):
        a, b = first[key], other[key]
        assert type(a) is type(b), key
        if isinstance(a, str):
            assert placeholders(a) == placeholders(b), key
            assert a.strip() and b.strip(), key
        elif isinstance(a, list):
            assert a and b and all(isinstance(item, str) and item for item in [*a, *b]), key
            # Chat words differ by language; names of days do not.
            if not key.startswith("commands."):
                assert len(a) == len(b), key


def test_days_read_the_same_as_before() -> None:
    assert format_day("zh-CN", date(2026, 11, 28)) == "11月28日"
    assert format_day("en", date(2026, 11, 28)) == "28 Nov"


def test_a_feature_file_joins_its_language_and_may_not_repeat_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "zh-CN").mkdir()
    (tmp_path / "zh-CN.toml").write_text('[menu]\ntitle = "菜单"\n', encoding="utf-8")
    (tmp_path / "zh-CN" / "rating.toml").write_text('[rating]\nask = "请评价"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    i18n.catalogue.cache_clear()
    try:
        assert i18n.catalogue("zh-CN") == {"menu.title": "菜单", "rating.ask": "请评价"}
        again = tmp_path / "zh-CN" / "menu.toml"
        again.write_text('[menu]\ntitle = "又一个"\n', encoding="utf-8")
        i18n.catalogue.cache_clear()
        with pytest.raises(ValueError, match=r"menu\.title"):
            i18n.catalogue("zh-CN")
    finally:
        i18n.catalogue.cache_clear()
