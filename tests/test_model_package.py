"""residency.model is a package of stage submodules behind a lazy ``__getattr__``: every
old import path works, each type is defined once, and the table of names is complete."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

import residency.model as model

SUBMODULES = ("facts", "endpoints", "resolution", "probes", "audit")


def _defined_in(name: str) -> set[str]:
    module = importlib.import_module(f"residency.model.{name}")
    return {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(value) or attr.isupper())
        and getattr(value, "__module__", module.__name__) == module.__name__
    }


def test_every_type_of_every_submodule_is_named_once_in_the_table() -> None:
    seen: dict[str, str] = {}
    for sub in SUBMODULES:
        for name in _defined_in(sub):
            assert name not in seen, f"{name} defined in {seen[name]} and {sub}"
            seen[name] = sub
    assert seen == model._WHERE
    assert sorted(model.__all__) == sorted(seen)


@pytest.mark.parametrize("name", sorted(model._WHERE))
def test_each_name_resolves_to_the_class_of_its_submodule(name: str) -> None:
    defined = getattr(importlib.import_module(f"residency.model.{model._WHERE[name]}"), name)
    assert getattr(model, name) is defined


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'IpFact'"):
        _ = model.IpFact  # type: ignore[attr-defined]


def test_importing_the_facts_builds_no_other_stage() -> None:
    code = (
        "import sys\nfrom residency.model import IpFacts, Evidence\n"
        "print(sorted(m for m in sys.modules if m.startswith('residency.model')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['residency.model', 'residency.model.facts']"
