"""What a declaration's rules see of the object around them (:class:`Context`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from kawa.apis.model import Context, KubeObject, Model, doc
from kawa.apis.model.objects import parse_object
from kawa.errors import FieldError

from ..helpers import field_errors


class Part(Model):
    """A part named after its object."""

    name: Annotated[str, doc("Starts with the object's name.")] = ""

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.name and not self.name.startswith(f"{ctx.name}-"):
            yield FieldError("name", f"must start with {ctx.name}-, in {ctx.namespace}")


class Whole(KubeObject):
    """An object with a part."""

    part: Annotated[Part, doc("The part.")]


def whole(name: str, part: str) -> dict[str, object]:
    return {
        "apiVersion": "example.dev/v1",
        "kind": "Whole",
        "metadata": {"name": name, "namespace": "ns"},
        "part": {"name": part},
    }


def parse(obj: dict[str, object]) -> Whole:
    return parse_object(Whole, obj, kind="Whole", api_versions=("example.dev/v1",), namespaced=True)


def test_rules_see_the_name_and_namespace_of_the_object() -> None:
    assert parse(whole("box", "box-lid")).part.name == "box-lid"
    assert field_errors(lambda: parse(whole("box", "lid"))) == {
        "part.name": "must start with box-, in ns"
    }
