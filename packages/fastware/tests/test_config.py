"""``fastware.config.load_config``: TOML, environment overrides, msgspec and pydantic."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pydantic
import pytest

from fastware.config import ConfigError, ConfigSyntaxError, load_config

TOML = """
name = "shop"
debug = false
hosts = ["a.example", "b.example"]

[database]
url = "sqlite:///shop.db"
pool-size = 5

[server]
port = 8000
"""


class Database(msgspec.Struct):
    url: str
    pool_size: int = msgspec.field(default=1, name="pool-size")


class Server(msgspec.Struct):
    port: int
    workers: int = 1


class Settings(msgspec.Struct):
    name: str
    database: Database
    server: Server
    debug: bool = False
    hosts: list[str] = []


class PydanticDatabase(pydantic.BaseModel):
    url: str
    pool_size: int = pydantic.Field(1, alias="pool-size")


class PydanticServer(pydantic.BaseModel):
    port: int
    workers: int = 1


class PydanticSettings(pydantic.BaseModel):
    name: str
    database: PydanticDatabase
    server: PydanticServer
    debug: bool = False
    hosts: list[str] = []


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(TOML)
    return path


def test_without_a_schema_it_returns_the_dict(config_file: Path) -> None:
    data = load_config(config_file, environ={})
    assert data["database"] == {"url": "sqlite:///shop.db", "pool-size": 5}
    assert load_config(str(config_file), environ={}) == data


def test_a_msgspec_struct_schema(config_file: Path) -> None:
    settings = load_config(config_file, Settings, environ={})
    assert settings == Settings(
        name="shop",
        database=Database(url="sqlite:///shop.db", pool_size=5),
        server=Server(port=8000),
        hosts=["a.example", "b.example"],
    )


def test_a_pydantic_schema(config_file: Path) -> None:
    settings = load_config(config_file, PydanticSettings, environ={})
    assert isinstance(settings, PydanticSettings)
    assert settings.database.pool_size == 5
    assert settings.server.port == 8000


def test_environment_variables_override_nested_values_case_blind(config_file: Path) -> None:
    environ = {
        "FASTWARE__DEBUG": "true",
        "FASTWARE__SERVER__PORT": "9000",
        "FASTWARE__DATABASE__POOL_SIZE": "20",  # matches the key pool-size
        "FASTWARE__DATABASE__URL": "postgresql://db/shop",
        "FASTWARE__HOSTS": '["c.example"]',
        "FASTWARE__NAME": "123",  # the file has a string here: stays text
        "FASTWARE__CACHE__TTL": "60",  # a table the file lacks
        "FASTWARE_HOST": "0.0.0.0",  # the server's variable, not ours: one underscore
        "OTHER__DEBUG": "false",
    }
    data = load_config(config_file, environ=environ)
    assert data["debug"] is True
    assert data["server"]["port"] == 9000
    assert data["database"] == {"url": "postgresql://db/shop", "pool-size": 20}
    assert data["hosts"] == ["c.example"]
    assert data["name"] == "123"
    assert data["cache"] == {"ttl": 60}
    assert "host" not in data


def test_environment_variables_reach_both_kinds_of_schema(config_file: Path) -> None:
    environ = {"FASTWARE__SERVER__WORKERS": "4", "FASTWARE__SERVER__PORT": "9000"}
    assert load_config(config_file, Settings, environ=environ).server == Server(9000, 4)
    pyd = load_config(config_file, PydanticSettings, environ=environ)
    assert (pyd.server.port, pyd.server.workers) == (9000, 4)


def test_the_prefix_can_be_changed_or_turned_off(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTWARE__SERVER__PORT", "9100")
    monkeypatch.setenv("SHOP_SERVER__PORT", "9200")
    assert load_config(config_file)["server"]["port"] == 9100  # os.environ by default
    assert load_config(config_file, env_prefix="SHOP_")["server"]["port"] == 9200
    assert load_config(config_file, env_prefix=None)["server"]["port"] == 8000


def test_msgspec_errors_name_the_file_and_the_key(config_file: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config_file, Settings, environ={"FASTWARE__SERVER__PORT": "eighty"})
    error = caught.value
    assert str(error) == (
        f"{config_file}: server.port: Expected `int`, got `str` "
        "(set by environment variable FASTWARE__SERVER__PORT)"
    )
    assert (error.path, error.key, error.variable) == (
        config_file,
        "server.port",
        "FASTWARE__SERVER__PORT",
    )
    assert isinstance(error, ValueError)


def test_a_missing_required_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('name = "x"\n[server]\nport = 1\n[database]\npool-size = 2\n')
    with pytest.raises(ConfigError, match=r"c\.toml: database\.url: Object missing required"):
        load_config(path, Settings, environ={})
    path.write_text('[server]\nport = 1\n[database]\nurl = "u"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, Settings, environ={})
    assert caught.value.key == "name"
    assert caught.value.variable is None


def test_an_item_of_an_array_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('name = "x"\nhosts = ["a", 2]\n[server]\nport = 1\n[database]\nurl = "u"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, Settings, environ={})
    assert caught.value.key == "hosts[1]"
    with pytest.raises(ConfigError) as caught:
        load_config(path, PydanticSettings, environ={})
    assert caught.value.key == "hosts[1]"
    assert str(caught.value).startswith(f"{path}: hosts[1]: Input should be a valid string")


def test_pydantic_errors_name_every_key(config_file: Path) -> None:
    environ = {"FASTWARE__SERVER__PORT": "eighty", "FASTWARE__DATABASE__POOL_SIZE": "many"}
    with pytest.raises(ConfigError) as caught:
        load_config(config_file, PydanticSettings, environ=environ)
    message = str(caught.value)
    assert f"{config_file}: database.pool-size: Input should be a valid integer" in message
    assert "(set by environment variable FASTWARE__DATABASE__POOL_SIZE)" in message
    assert f"{config_file}: server.port: Input should be a valid integer" in message
    assert caught.value.key == "database.pool-size"


def test_a_variable_inside_a_value_that_is_not_a_table(config_file: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config_file, environ={"FASTWARE__NAME__FIRST": "x"})
    assert str(caught.value) == (
        f"{config_file}: name: environment variable FASTWARE__NAME__FIRST sets a key inside "
        "it, but it is a string, not a table"
    )
    with pytest.raises(ConfigError, match="FASTWARE__SERVER____PORT has an empty key"):
        load_config(config_file, environ={"FASTWARE__SERVER____PORT": "1"})


def test_a_missing_file_and_bad_toml_fail_as_in_0_6_3(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(tomllib.TOMLDecodeError) as caught:
        load_config(bad)
    assert isinstance(caught.value, ConfigSyntaxError)
    assert str(caught.value).startswith(f"{bad}: not valid TOML: Invalid value")


def test_other_msgspec_types_work_as_schemas(config_file: Path) -> None:
    from dataclasses import dataclass

    @dataclass
    class Only:
        name: str
        debug: bool

    data: Any = load_config(config_file, Only, environ={"FASTWARE__DEBUG": "1"})
    assert data == Only(name="shop", debug=True)
