"""The installed package carries everything residency reads at run time (issue 11)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from residency.paths import project_data, project_data_dir
from residency.policy.catalogue import UnknownPolicy, catalogue, resolve_policy

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed_for_the_wheel() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "residency").rglob("__init__.py")
    }
    assert found | {"residency.data"} == listed


def test_every_data_file_matches_a_package_data_glob() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = config["package-data"]["residency.data"]
    data = ROOT / "data"
    shipped = {p for g in globs for p in data.glob(g)}
    files = {p for p in data.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert files - {data / "__init__.py"} <= shipped


def test_tables_come_from_the_package_not_the_checkout_layout() -> None:
    assert project_data().joinpath("sources.toml").is_file()
    assert (project_data_dir() / "demo" / "zones").is_dir()


def test_policies_by_name_and_by_path() -> None:
    names = {e.name for e in catalogue()}
    assert {"india-payments", "eu-sovereign"} <= names
    assert all(e.description for e in catalogue())
    by_name = resolve_policy("india-payments")
    assert by_name == project_data_dir() / "policies" / "india-payments.toml"
    assert resolve_policy(str(by_name)) == by_name


def test_unknown_policy_names_the_choices() -> None:
    try:
        resolve_policy("no-such-policy")
    except UnknownPolicy as err:
        assert "no-such-policy" in str(err) and "india-payments" in str(err)
    else:
        raise AssertionError("an unknown policy name was accepted")
