"""The [log] section: level and format, validated with the rest of the configuration."""

import pytest

from peppasync.config import parse_config
from peppasync.errors import ConfigError


def test_the_log_section_defaults_to_info_as_json_and_reads_level_and_format():
    default = parse_config({}, environ={})
    given = parse_config({"log": {"level": "DEBUG", "format": "text"}}, environ={})

    assert (default.log.level, default.log.format) == ("info", "json")
    assert (given.log.level, given.log.format) == ("DEBUG", "text")


def test_the_log_level_can_come_from_the_environment():
    config = parse_config({"log": {"level": "info"}}, environ={"PEPPASYNC_LOG_LEVEL": "warning"})

    assert config.log.level == "warning"


def test_an_unknown_log_level_or_format_is_named_with_what_is_accepted():
    with pytest.raises(ConfigError) as caught:
        parse_config({"log": {"level": "verbose", "format": "xml"}}, source="p.toml", environ={})

    assert [str(p) for p in caught.value.problems] == [
        "p.toml: log.level: expected one of debug, info, warning, error, critical, got 'verbose'",
        "p.toml: log.format: expected one of json, text, got 'xml'",
    ]
